#include "daemon/app/campaign_sources.hpp"

#include <spdlog/spdlog.h>

namespace campaignd::app {

CampaignSources::CampaignSources(store::Store& store, campaigns::Scheduler& scheduler, campaigns::SourceFolders own,
                                 std::string unpack_root, std::string node_id, const util::Clock& clock)
    : store_(store),
      scheduler_(scheduler),
      own_(std::move(own)),
      unpack_root_(std::move(unpack_root)),
      node_id_(std::move(node_id)),
      clock_(clock) {
  auto reader = store_.open_reader();
  if (!reader) throw std::runtime_error(reader.error());
  reader_ = std::move(*reader);
}

Result<bool> CampaignSources::refresh(bool leader, bool own_files_changed) {
  if (auto s = reader_.reconnect_if_lost(); !s) return std::unexpected(s.error());
  return leader ? lead(own_files_changed) : follow();
}

Result<bool> CampaignSources::lead(bool own_files_changed) {
  const Role was = role_;
  if (was == Role::leader && !own_files_changed) return false;
  role_ = Role::leader;
  if (was == Role::follower && !own_files_changed) {
    // Taking over: go on with what the last leader loaded.
    std::string digest;
    auto copy = unpack_copy(digest);
    if (!copy) return std::unexpected(copy.error());
    if (*copy) {
      spdlog::info("node {} leads: goes on with the campaign files of the last leader ({}); its own folder {} "
                   "counts from its next change or SIGHUP",
                   node_id_, digest.substr(0, 16), own_.campaigns_dir);
      if (auto s = scheduler_.reload(**copy, campaigns::LoadRole::leader); !s) return std::unexpected(s.error());
      return true;
    }
  }
  if (was == Role::follower) spdlog::info("node {} leads: campaigns come from its own folder {}", node_id_, own_.campaigns_dir);
  followed_digest_.clear();
  if (auto s = scheduler_.reload(); !s) return std::unexpected(s.error());
  // Only PostgreSQL has other nodes to give a copy to.
  if (reader_.is_postgresql())
    if (auto s = publish(); !s) spdlog::error("node {}: cannot give the other nodes the campaign files: {}", node_id_, s.error());
  return true;
}

Result<std::optional<campaigns::SourceFolders>> CampaignSources::unpack_copy(std::string& digest) {
  auto row = store::LeaderFilesRepository(reader_).load();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<campaigns::SourceFolders>();
  auto folders = campaigns::unpack_leader_files(**row, unpack_root_);
  if (!folders) return std::unexpected(folders.error());
  digest = (*row)->digest;
  return std::optional<campaigns::SourceFolders>(std::move(*folders));
}

Status CampaignSources::publish() {
  auto packed = campaigns::pack_leader_files(own_);
  if (!packed) return std::unexpected(packed.error());
  auto stored = store::LeaderFilesRepository(reader_).digest();
  if (!stored) return std::unexpected(stored.error());
  if (*stored == packed->digest) return {};
  packed->node = node_id_;
  packed->taken_at = clock_.now();
  auto s = store_.writer().run([&](const store::Database& db) { return store::LeaderFilesRepository(db).save(*packed); });
  if (!s) return s;
  settle_until_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  spdlog::info("node {}: campaign files published for the other nodes ({} files, {})", node_id_,
               packed->files.size(), packed->digest.substr(0, 16));
  return {};
}

Result<bool> CampaignSources::follow() {
  if (role_ == Role::leader) spdlog::info("node {} follows: campaigns now come from the leader's files", node_id_);
  role_ = Role::follower;
  auto digest = store::LeaderFilesRepository(reader_).digest();
  if (!digest) return std::unexpected(digest.error());
  if (!*digest) {
    if (!told_waiting_) spdlog::info("node {} follows: waiting for the leader's campaign files", node_id_);
    told_waiting_ = true;
    return false;
  }
  if (**digest == followed_digest_) return false;
  std::string loaded;
  auto copy = unpack_copy(loaded);
  if (!copy) return std::unexpected(copy.error());
  if (!*copy) return false;
  if (auto s = scheduler_.reload(**copy, campaigns::LoadRole::follower); !s) return std::unexpected(s.error());
  followed_digest_ = loaded;
  spdlog::info("node {} follows: loaded the leader's campaign files ({})", node_id_, followed_digest_.substr(0, 16));
  return true;
}

}  // namespace campaignd::app
