// Test fixture: campaigns/, templates/ and rules/ folders in a temporary directory, with
// helpers to drop files into them. Shared by the campaign, scheduler and delivery tests.
#pragma once

#include <filesystem>
#include <string>

#include "daemon/campaigns/campaign_loader.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::testing {

class CampaignFolders {
 public:
  CampaignFolders() {
    std::filesystem::create_directories(tmp_.file("campaigns"));
    std::filesystem::create_directories(tmp_.file("templates"));
    std::filesystem::create_directories(tmp_.file("rules"));
  }

  std::string campaigns_dir() const { return tmp_.file("campaigns"); }
  std::string templates_dir() const { return tmp_.file("templates"); }
  std::string rules_dir() const { return tmp_.file("rules"); }
  campaigns::LoaderPaths loader_paths() const { return {templates_dir(), rules_dir()}; }
  const TempFolder& tmp() const { return tmp_; }

  // NAME.html.mustache and NAME.txt.mustache, both showing {{unsubscribe_url}} as bulk mail must.
  void write_template(const std::string& name) const {
    tmp_.write("templates/" + name + ".html.mustache",
               "<p>Hello {{first_name}}</p>\n<p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p>\n");
    tmp_.write("templates/" + name + ".txt.mustache", "Hello {{first_name}}\n\nUnsubscribe: {{unsubscribe_url}}\n");
  }
  void write_template_file(const std::string& file, const std::string& text) const {
    tmp_.write("templates/" + file, text);
  }
  void write_rule(const std::string& name, const std::string& expression) const {
    tmp_.write("rules/" + name + ".yaml", "description: test rule\nsegment: '" + expression + "'\n");
  }
  std::string write_campaign(const std::string& file, const std::string& text) const {
    return tmp_.write("campaigns/" + file, text);
  }
  void remove_campaign(const std::string& file) const { std::filesystem::remove(tmp_.file("campaigns/" + file)); }

 private:
  TempFolder tmp_;
};

}  // namespace campaignd::testing
