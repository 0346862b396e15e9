// Tests for maildir delivery: where files land, their exact bytes, unique names, url parsing
// and how disk trouble is reported.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "daemon/transport/maildir_transport.hpp"
#include "tests/unit/transport/transport_test_support.hpp"

using namespace campaignd::transport;
using campaignd::transport::testing::read_file;
using campaignd::transport::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path());
  return out;
}

std::unique_ptr<Transport> maildir_at(const fs::path& dir) {
  auto transport = make_transport({.url = "maildir://" + dir.string()});
  REQUIRE(transport);
  return std::move(*transport);
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("maildir delivery lands one exact file in new/ and leaves tmp/ empty") {
  TempDir tmp;
  auto transport = maildir_at(tmp.path() / "outbox");
  auto session = transport->open_session();
  REQUIRE(session);
  const std::string message =
      "From: News <news@acme.example>\r\nTo: ann@example.com\r\nSubject: Hi\r\n\r\nBody line\r\n.dot\r\n\r\n";
  auto result = (*session)->send({"bounce+abc@acme.example", "ann@example.com"}, message);
  CHECK(result.outcome == Outcome::sent);

  auto delivered = files_in(tmp.path() / "outbox" / "new");
  REQUIRE(delivered.size() == 1);
  CHECK(files_in(tmp.path() / "outbox" / "tmp").empty());
  CHECK(fs::is_directory(tmp.path() / "outbox" / "cur"));
  CHECK(read_file(delivered[0]) ==
        "Return-Path: <bounce+abc@acme.example>\r\nDelivered-To: ann@example.com\r\n" + message);
  CHECK(result.reply.find(delivered[0].filename().string()) != std::string::npos);
  CHECK((fs::status(delivered[0]).permissions() & fs::perms::others_read) == fs::perms::none);
}

TEST_CASE("maildir: a withheld message leaves nothing in new/ nor tmp/; the go-ahead comes before the move") {
  TempDir tmp;
  auto transport = maildir_at(tmp.path() / "outbox");
  auto session = transport->open_session();
  REQUIRE(session);
  size_t in_tmp_when_asked = 0;
  auto held = (*session)->send({"a@acme.example", "b@example.com"}, "Subject: x\r\n\r\nbody\r\n", [&] {
    in_tmp_when_asked = files_in(tmp.path() / "outbox" / "tmp").size();
    return false;
  });
  CHECK(held.outcome == Outcome::withheld);
  CHECK(in_tmp_when_asked == 1);  // written, not yet delivered
  CHECK(files_in(tmp.path() / "outbox" / "new").empty());
  CHECK(files_in(tmp.path() / "outbox" / "tmp").empty());

  auto sent = (*session)->send({"a@acme.example", "b@example.com"}, "Subject: y\r\n\r\nbody\r\n", [] { return true; });
  CHECK(sent.outcome == Outcome::sent);
  CHECK(files_in(tmp.path() / "outbox" / "new").size() == 1);
}

TEST_CASE("maildir names stay unique over 1000 sends from several threads") {
  TempDir tmp("/dev/shm");  // tmpfs: the same code path, without 1000 disk fsyncs
  auto transport = maildir_at(tmp.path());
  std::vector<std::thread> workers;
  std::atomic<int> sent{0};
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&, t] {
      auto session = transport->open_session();
      for (int i = 0; i < 250; ++i) {
        auto body = "Subject: " + std::to_string(t) + "-" + std::to_string(i) + "\r\n\r\nx\r\n";
        if ((*session)->send({"a@acme.example", "b@example.com"}, body).outcome == Outcome::sent) ++sent;
      }
    });
  }
  for (auto& w : workers) w.join();
  CHECK(sent == 1000);
  auto delivered = files_in(tmp.path() / "new");
  CHECK(delivered.size() == 1000);
  std::set<std::string> subjects;
  for (const auto& file : delivered) {
    auto content = read_file(file);
    subjects.insert(content.substr(content.find("Subject: ")));
  }
  CHECK(subjects.size() == 1000);  // no message overwrote another

  std::set<std::string> names;
  for (int i = 0; i < 10000; ++i) names.insert(unique_maildir_name());
  CHECK(names.size() == 10000);
  auto name = *names.begin();
  CHECK(name.find(".M") != std::string::npos);
  CHECK(name.find("P" + std::to_string(::getpid()) + "Q") != std::string::npos);
  CHECK(name.find('/') == std::string::npos);
  CHECK(name.find(':') == std::string::npos);
}

TEST_CASE("maildir urls: relative, ./relative and absolute paths; bad urls are errors") {
  CHECK(parse_maildir_url("maildir://./var/outbox", "/srv/campaignd").value() == "/srv/campaignd/var/outbox");
  CHECK(parse_maildir_url("maildir://var/outbox", "/srv/campaignd").value() == "/srv/campaignd/var/outbox");
  CHECK(parse_maildir_url("maildir:///abs/path", "/srv/campaignd").value() == "/abs/path");
  CHECK(parse_maildir_url("MAILDIR:///abs/../path/", "").value() == "/path/");
  CHECK(parse_maildir_url("maildir://./var/outbox", "").value() == "var/outbox");

  for (const char* bad : {"maildir://", "maildir:/x", "smtp://x", "maildir://a?b=1", "maildir://a#b", "maildir://a\nb"}) {
    CAPTURE(bad);
    auto parsed = parse_maildir_url(bad, "");
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().find("maildir url") != std::string::npos);
  }

  TempDir tmp;
  auto relative = make_transport({.url = "maildir://./spool/out", .base_dir = tmp.path().string()});
  REQUIRE(relative);
  CHECK(fs::is_directory(tmp.path() / "spool/out/new"));
  CHECK((*relative)->describe() == "maildir://" + (tmp.path() / "spool/out").string());

  auto no_scheme = make_transport({.url = "./var/outbox"});
  REQUIRE_FALSE(no_scheme);
  CHECK(no_scheme.error().find("no scheme") != std::string::npos);
  auto unknown = make_transport({.url = "ftp://user:secret@host/x"});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().find("unsupported scheme 'ftp'") != std::string::npos);
  CHECK(unknown.error().find("secret") == std::string::npos);

  // The maildir's parent is a file: creation fails with the path named.
  std::ofstream(tmp.path() / "file") << "x";
  auto blocked = make_transport({.url = "maildir://" + (tmp.path() / "file/outbox").string()});
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().find("cannot create maildir") != std::string::npos);
}

TEST_CASE("maildir disk errors are retry with the system's reason; bad envelopes fail") {
  TempDir tmp;
  auto transport = maildir_at(tmp.path());
  auto session = transport->open_session();
  REQUIRE(session);

  auto bad = (*session)->send({"a@acme.example", "b@example.com\r\nBcc: x@evil.example"}, "x\r\n");
  CHECK(bad.outcome == Outcome::failed);
  CHECK((*session)->send({"a@acme.example", ""}, "x\r\n").outcome == Outcome::failed);
  CHECK((*session)->send({"a@acme.example", "no-domain"}, "x\r\n").outcome == Outcome::failed);
  CHECK((*session)->send({"<a@acme.example>", "b@example.com"}, "x\r\n").outcome == Outcome::failed);
  CHECK(files_in(tmp.path() / "new").empty());

  // tmp/ replaced by a file: every write fails the way a broken disk would.
  fs::remove(tmp.path() / "tmp");
  std::ofstream(tmp.path() / "tmp") << "not a directory";
  auto result = (*session)->send({"a@acme.example", "b@example.com"}, "Subject: x\r\n\r\nx\r\n");
  CHECK(result.outcome == Outcome::retry);
  CHECK(result.reply.find("Not a directory") != std::string::npos);
  CHECK(files_in(tmp.path() / "new").empty());

  // The disk "clears": the same session delivers again.
  fs::remove(tmp.path() / "tmp");
  fs::create_directory(tmp.path() / "tmp");
  CHECK((*session)->send({"", "b@example.com"}, "Subject: x\r\n\r\nx\r\n").outcome == Outcome::sent);
  auto delivered = files_in(tmp.path() / "new");
  REQUIRE(delivered.size() == 1);
  CHECK(read_file(delivered[0]).starts_with("Return-Path: <>\r\n"));
}

}  // TEST_SUITE
