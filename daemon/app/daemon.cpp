#include "daemon/app/daemon.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "daemon/analytics/rfm.hpp"
#include "daemon/app/cluster_node.hpp"
#include "daemon/app/signals.hpp"
#include "daemon/app/campaign_sources.hpp"
#include "daemon/automation/automation_engine.hpp"
#include "daemon/app/status_page.hpp"
#include "daemon/app/status_report.hpp"
#include "daemon/campaigns/folder_watcher.hpp"
#include "daemon/consent/subscribe_service.hpp"
#include "daemon/campaigns/scheduler.hpp"
#include "daemon/delivery/delivery_engine.hpp"
#include "daemon/http/http_server.hpp"
#include "daemon/store/nodes.hpp"
#include "daemon/store/pg/pg_send_leases.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/tracking/events_api.hpp"
#include "daemon/tracking/inbound/inbound_service.hpp"
#include "daemon/tracking/machine_detector.hpp"
#include "daemon/tracking/tracking_links.hpp"
#include "daemon/tracking/tracking_service.hpp"
#include "daemon/tracking/unsubscribe_service.hpp"
#include "daemon/tracking/webhooks/webhook_service.hpp"
#include "daemon/transport/transport.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::app {

namespace fs = std::filesystem;

namespace {

// systemd's Type=notify protocol, without linking libsystemd: one datagram to $NOTIFY_SOCKET.
void sd_notify(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof addr.sun_path) {
    close(fd);
    return;
  }
  std::copy(p.begin(), p.end(), addr.sun_path);
  if (p[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + p.size());
  (void)sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
  close(fd);
}

// What /healthz, /status and /metrics report.
class DaemonStatus {
 public:
  DaemonStatus(store::Store& store, campaigns::Catalog& catalog, delivery::DeliveryEngine& engine,
               std::string transport, std::chrono::steady_clock::time_point started,
               std::vector<PlacedError> startup_errors, const automation::AutomationEngine& automations)
      : store_(store), catalog_(catalog), engine_(engine), transport_(std::move(transport)), started_(started),
        startup_errors_(std::move(startup_errors)), automations_(automations) {}

  bool healthy() {
    auto db = store_.readers().borrow();
    if (!db) return false;
    if ((*db)->exec("SELECT 1 FROM campaigns LIMIT 1")) return true;
    return (*db)->reconnect_if_lost() && (*db)->exec("SELECT 1 FROM campaigns LIMIT 1");
  }
  nlohmann::json status() {
    auto lease = store_.readers().borrow();
    if (!lease) return {{"error", "database unavailable: " + lease.error()}};
    const store::Database* db = &**lease;
    auto stats = engine_.stats();
    LiveFigures live;
    live.uptime_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    live.send_rate = stats.send_rate;
    live.in_flight = stats.in_flight;
    live.sent = stats.sent;
    live.failed = stats.failed;
    live.retried = stats.retried;
    live.skipped = stats.skipped;
    live.deferred = stats.deferred;
    live.paused_reason = stats.paused_reason;
    live.paused_since = stats.paused_since;
    live.unrecorded = stats.unrecorded;
    live.database = store_.describe();
    live.flows = engine_.flow_status();
    live.transport = transport_;
    auto errors = catalog_.errors();
    errors.insert(errors.end(), startup_errors_.begin(), startup_errors_.end());
    {
      std::lock_guard lock(loop_error_mutex_);
      if (!loop_error_.empty()) {
        // Not a file's fault, but it belongs with the errors an admin must see.
        errors.push_back(PlacedError{{store_.describe(), 0, 0}, loop_error_});
      }
    }
    auto doc = build_status(*db, errors, live);
    // A connection PostgreSQL dropped shows only when used: open it again and ask once more.
    if (!doc && db->reconnect_if_lost()) doc = build_status(*db, errors, live);
    if (!doc) return {{"error", doc.error()}};
    (*doc)["automations"] = automations_.status();
    if (node_) (*doc)["nodes"] = nodes(*db);
    return *doc;
  }
  std::string metrics() { return metrics_from_status(status()); }
  // GET /: the status document as the admin's HTML page.
  http::HttpResponse page(const StatusPage& page) {
    auto doc = status();  // borrows a reader and gives it back before the page borrows its own
    auto lease = store_.readers().borrow();
    if (!lease) return http::HttpResponse::text(503, "database unavailable\n");
    return page.respond(**lease, doc, util::SystemClock().now());
  }
  void set_node(const ClusterNode* node) { node_ = node; }
  // Every node heard from within two leases (on SQLite: this one), this one and the leader marked.
  nlohmann::json nodes(const store::Database& db) const {
    auto now = util::SystemClock().now();
    auto rows = store::NodeRepository(db).heard_since(now - 2 * node_->settings().lease_seconds);
    if (!rows) return {{"error", rows.error()}};
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *rows)
      out.push_back({{"id", r.id}, {"self", r.id == node_->id()}, {"leader", r.leader}, {"started_at", r.started_at},
                     {"heartbeat_at", r.heartbeat_at}, {"heartbeat_age_s", std::max<std::int64_t>(0, now - r.heartbeat_at)},
                     {"sent", r.sent}, {"send_rate", r.send_rate}});
    return out;
  }
  // The scheduler's or automations' last failure (a full disk, a locked database); "" = none.
  void set_loop_error(std::string error) {
    std::lock_guard lock(loop_error_mutex_);
    loop_error_ = std::move(error);
  }

 private:
  store::Store& store_;
  campaigns::Catalog& catalog_;
  delivery::DeliveryEngine& engine_;
  std::string transport_;
  std::chrono::steady_clock::time_point started_;
  std::vector<PlacedError> startup_errors_;  // webhook adapters that did not load
  const automation::AutomationEngine& automations_;
  const ClusterNode* node_ = nullptr;
  std::mutex loop_error_mutex_;
  std::string loop_error_;
};

// Addresses autoresponders never answer: every sender we are configured with.
std::set<std::string> our_addresses(const config::Config& cfg) {
  std::set<std::string> out;
  if (auto from = util::parse_mailbox(cfg.subscribe.from)) out.insert(util::normalize_address(from->address));
  return out;
}

// The built-in confirmation campaign of double opt-in, when subscribe.from is set.
std::optional<campaigns::Campaign> confirmation_campaign(const config::Config& cfg) {
  auto from = util::parse_mailbox(cfg.subscribe.from);
  if (!from) return std::nullopt;
  campaigns::Campaign c;
  c.kind = campaigns::CampaignKind::confirmation;
  c.name = "_confirm-subscription";
  c.from = *from;
  c.subject = cfg.subscribe.subject;
  c.template_name = "confirm-subscription";
  c.track = false;
  return c;
}

void install_routes(http::HttpServer& server, DaemonStatus& status, tracking::UnsubscribeService& unsubscribe,
                    consent::SubscribeService& subscribe, tracking::TrackingService& tracking,
                    tracking::webhooks::WebhookService& webhooks, tracking::inbound::InboundService& inbound,
                    tracking::EventsApi& events_api, const StatusPage& status_page) {
  using http::Access;
  using http::HttpRequest;
  using http::HttpResponse;
  server.route("GET", "/healthz", Access::anyone, [&status](const HttpRequest&) {
    return status.healthy() ? HttpResponse::text(200, "ok\n") : HttpResponse::text(503, "unhealthy\n");
  });
  server.route("GET", "/status", Access::admin,
               [&status](const HttpRequest&) {
                 auto doc = status.status();
                 return HttpResponse::json(doc.contains("campaigns") ? 200 : 503, doc);
               });
  server.add_login_routes();  // GET/POST /login, GET /login/{code}, POST /logout, POST /api/login-link
  server.route("GET", "/", Access::admin_page,
               [&status, &status_page](const HttpRequest&) { return status.page(status_page); });
  server.route("GET", "/metrics", Access::admin, [&status](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4", status.metrics(), {}};
  });
  const std::string token = R"(([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+))";
  server.route("GET", "/u/" + token, Access::anyone, [&](const HttpRequest& r) { return unsubscribe.page(r); });
  server.route("POST", "/u/" + token, Access::anyone, [&](const HttpRequest& r) { return unsubscribe.post(r); });
  server.route("GET", "/t/o/" + token, Access::anyone, [&](const HttpRequest& r) { return tracking.open(r); });
  server.route("GET", "/t/c/" + token, Access::anyone, [&](const HttpRequest& r) { return tracking.click(r); });
  // Registered first: `inbound` is not a provider.
  server.route("POST", "/webhooks/inbound", Access::anyone, [&](const HttpRequest& r) { return inbound.handle(r); });
  server.route("POST", "/webhooks/([a-z0-9_-]+)", Access::anyone,
               [&](const HttpRequest& r) { return webhooks.handle(r.captures[0], r); });
  server.route("POST", "/api/events", Access::admin, [&](const HttpRequest& r) { return events_api.post(r); });
  server.route("POST", "/api/subscribe", Access::anyone, [&](const HttpRequest& r) { return subscribe.subscribe(r); });
  server.route("GET", "/c/" + token, Access::anyone, [&](const HttpRequest& r) { return subscribe.confirm(r); });
}

Status ensure_dir(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return fail("cannot create " + path + ": " + ec.message());
  return {};
}

}  // namespace

Result<std::string> token_key(const config::Config& cfg) {
  if (!cfg.token_key.empty()) return cfg.token_key;
  std::string path = (fs::path(cfg.resolve(cfg.data_dir)) / "token.key").string();
  if (std::ifstream in(path, std::ios::binary); in) {
    std::string key((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (key.size() >= 32) return key;
  }
  if (auto s = ensure_dir(cfg.resolve(cfg.data_dir)); !s) return std::unexpected(s.error());
  std::string key = util::to_hex(util::random_bytes(32));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("cannot create " + path + " (set " + cfg.token_key_env + " instead)");
  bool ok = ::write(fd, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return fail("cannot write " + path);
  spdlog::info("created a token key in {} (set {} to manage it yourself)", path, cfg.token_key_env);
  return key;
}

Result<RunSummary> run_daemon(const config::Config& cfg, RunMode mode) {
  util::SystemClock clock;
  auto started = std::chrono::steady_clock::now();
  install_signal_handlers();

  std::string campaigns_dir = cfg.resolve(cfg.campaigns_dir);
  for (const auto& dir : {cfg.resolve(cfg.data_dir), campaigns_dir})
    if (auto s = ensure_dir(dir); !s) return std::unexpected(s.error());

  auto store = store::Store::open(cfg.store_target());
  if (!store) return std::unexpected(store.error());
  auto requeued = (*store)->writer().submit([&clock](const store::Database& db) -> Status {
    // On PostgreSQL other nodes may be sending right now: only sends whose lease ran out (their
    // node died) go back to the queue; the heartbeat keeps doing that.
    Result<std::int64_t> n = 0;
    if (db.is_postgresql()) n = store::pg::release_expired_leases(*db.postgresql_connection(), clock.now());
    else if (auto local = store::SendRepository(db).requeue_in_flight(); local) n = *local;
    else n = std::unexpected(local.error());
    if (!n) return std::unexpected(n.error());
    if (*n > 0) spdlog::warn("{} sends were in flight when campaignd last stopped; they go again", *n);
    return {};
  }).get();
  if (!requeued) return std::unexpected(requeued.error());

  auto key = token_key(cfg);
  if (!key) return std::unexpected(key.error());
  tracking::TokenSigner signer(*key);

  // One transport per relay; the engine routes by campaign and From domain, with failover.
  std::vector<std::unique_ptr<transport::Transport>> transports;
  std::vector<delivery::RelaySpec> relays;
  std::string transport_description;
  for (const auto& relay : cfg.relays) {
    auto transport = transport::make_transport(
        {relay.url, relay.username, relay.password, relay.timeout_seconds, cfg.base_dir});
    if (!transport) return fail("transport (relay " + relay.name + "): " + transport.error());
    delivery::RelaySpec spec;
    spec.name = relay.name;
    spec.transport = transport->get();
    spec.limits = {relay.concurrency, relay.rate.per_second()};
    spec.budget.window = relay.window;
    spec.budget.warmup = relay.warmup;
    spec.warmup_start = relay.warmup_start;
    spec.from_domains = relay.from_domains;
    relays.push_back(std::move(spec));
    transport_description += (transport_description.empty() ? "" : ", ") + (*transport)->describe();
    transports.push_back(std::move(*transport));
  }

  campaigns::Catalog catalog;
  automation::AutomationEngine automations(**store, clock,
                                           {cfg.resolve(cfg.templates_dir), cfg.resolve(cfg.rules_dir), our_addresses(cfg)});
  campaigns::SchedulerPaths scheduler_paths{
      campaigns_dir, {cfg.resolve(cfg.templates_dir), cfg.resolve(cfg.rules_dir)}, confirmation_campaign(cfg),
      [&automations](const std::vector<std::string>& files, const campaigns::LoaderPaths& paths, campaigns::LoadRole role,
                     std::map<std::int64_t, campaigns::PreparedCampaignPtr>& prepared,
                     std::vector<PlacedError>& errors) -> Status {
        if (auto s = automations.reload(files, paths, role, errors); !s) return s;
        prepared.merge(automations.prepared());
        return {};
      }};
  campaigns::Scheduler scheduler(**store, catalog, clock, scheduler_paths);
  auto dkim = render::DkimKeyring::load(cfg.dkim, cfg.base_dir);
  if (!dkim) return fail("dkim: " + dkim.error());
  tracking::TrackingLinks links(cfg.public_url, signer);
  delivery::MessageComposer composer(cfg.public_url, signer, &links, &*dkim);
  delivery::DeliverySettings settings;
  for (const auto& [domain, limit] : cfg.domains) settings.destinations[domain] = {limit.concurrency, limit.rate.per_second()};
  settings.throttle = {cfg.throttling.pause_seconds * 1000, cfg.throttling.max_pause_seconds * 1000,
                       cfg.throttling.recovery_seconds * 1000};
  settings.batch_size = cfg.batch_size;
  settings.max_attempts = cfg.max_attempts;
  settings.unrecorded_per_session = cfg.unrecorded_per_session;
  settings.retry_base_seconds = cfg.retry_base_seconds;
  settings.retry_max_seconds = cfg.retry_max_seconds;
  settings.lease_seconds = cfg.node_lease_seconds;
  delivery::DeliveryEngine* sender = nullptr;  // reported at each heartbeat once it exists
  ClusterNode node(**store, clock, {cfg.node_heartbeat_seconds, cfg.node_lease_seconds}, [&sender] {
    if (!sender) return NodeLoad{};
    auto stats = sender->stats();
    return NodeLoad{stats.sent, stats.send_rate};
  });
  settings.node_id = node.id();
  CampaignSources sources(**store, scheduler,
                          {campaigns_dir, cfg.resolve(cfg.templates_dir), cfg.resolve(cfg.rules_dir)},
                          cfg.resolve(cfg.data_dir) + "/leader-files", node.id(), clock);
  tracking::EventRecorder recorder(**store, clock, {cfg.soft_bounce_limit});
  delivery::DeliveryEngine engine(**store, catalog, std::move(relays), composer, clock, settings, &recorder);
  sender = &engine;

  std::vector<PlacedError> webhook_errors;
  auto webhooks = tracking::webhooks::WebhookService::load(cfg.resolve(cfg.webhooks_dir), recorder, clock, **store,
                                                           webhook_errors);
  if (!webhooks) return fail("webhooks: " + webhooks.error());
  for (const auto& e : webhook_errors) spdlog::error("webhook adapter rejected: {}", e.to_string());
  tracking::inbound::InboundService inbound(recorder, signer, **store, clock);
  tracking::EventsApi events_api(**store, clock, cfg.attribution_window_seconds);
  DaemonStatus status(**store, catalog, engine, transport_description, started, webhook_errors, automations);
  status.set_node(&node);
  tracking::MachineDetectorSettings detector_settings;
  detector_settings.seconds_after_send = cfg.scanner_window_seconds;
  tracking::MachineDetector detector(clock, detector_settings);
  tracking::TrackingService tracking_service(**store, recorder, links, detector, clock);
  auto unsubscribe =
      tracking::UnsubscribeService::create(**store, recorder, signer, clock, cfg.resolve(cfg.templates_dir));
  if (!unsubscribe) return fail("unsubscribe pages: " + unsubscribe.error());
  auto subscribe = consent::SubscribeService::create(
      **store, signer, clock, {cfg.subscribe.rate, cfg.subscribe.confirm_ttl_seconds},
      [&scheduler] { return scheduler.confirmation_id(); }, cfg.resolve(cfg.templates_dir));
  if (!subscribe) return fail("subscription pages: " + subscribe.error());
  auto status_page = StatusPage::create(cfg.resolve(cfg.templates_dir));
  if (!status_page) return fail("status page: " + status_page.error());
  // Watching starts before the first load, so a file dropped from then on is never missed;
  // HTTP (and so /healthz) starts last, once everything answers.
  std::unique_ptr<campaigns::FolderWatcher> watcher;
  if (mode == RunMode::forever)
    watcher = std::make_unique<campaigns::FolderWatcher>(std::vector<std::string>{
        campaigns_dir, cfg.resolve(cfg.templates_dir), cfg.resolve(cfg.rules_dir)});

  // RFM quintile boundaries: before the first segment is resolved, then every 15 minutes. The
  // sorts run on a reading connection; only the small result goes through the writer.
  auto analytics_reader = (*store)->open_reader();
  if (!analytics_reader) return std::unexpected(analytics_reader.error());
  auto refresh_rfm = [&] {
    if (auto s = analytics_reader->reconnect_if_lost(); !s) {
      spdlog::error("analytics: {}", s.error());
      return;
    }
    auto boundaries = analytics::compute_rfm_boundaries(*analytics_reader, clock.now());
    if (!boundaries) {
      spdlog::error("analytics: cannot compute RFM boundaries: {}", boundaries.error());
      return;
    }
    auto stored = (*store)->writer().run(
        [&](const store::Database& db) { return analytics::store_rfm_boundaries(db, *boundaries); });
    if (!stored) spdlog::error("analytics: cannot store RFM boundaries: {}", stored.error());
  };
  if (auto s = node.start(); !s) return fail("node: " + s.error());
  if (node.leader()) refresh_rfm();
  auto rfm_refreshed = std::chrono::steady_clock::now();

  // A follower loads the leader's copy before it sends, so it knows every campaign it may claim.
  if (auto s = sources.refresh(node.leader(), true); !s) return std::unexpected(s.error());
  if (auto s = engine.start(); !s) return std::unexpected(s.error());
  std::unique_ptr<http::HttpServer> http;
  if (mode == RunMode::forever) {
    if (cfg.admin_token.empty())
      spdlog::warn("{} is not set: /status, /metrics and /api refuse every request", cfg.admin_token_env);
    http::HttpSettings http_settings{cfg.http_listen, cfg.admin_token};
    http_settings.secure_cookies = cfg.public_url.starts_with("https://");
    http_settings.worker_nice = 19;  // sending first: see HttpSettings::worker_nice (systemd: allow setpriority)
    http = std::make_unique<http::HttpServer>(http_settings);
    install_routes(*http, status, **unsubscribe, **subscribe, tracking_service, *webhooks, inbound, events_api,
                   *status_page);
    if (auto s = http->start(); !s) return std::unexpected(s.error());
  }

  if (mode == RunMode::forever) {
    sd_notify("READY=1\nSTATUS=running");
    spdlog::info("campaignd {} running: campaigns from {}, sending via {}", CAMPAIGND_VERSION, campaigns_dir,
                 transport_description);
  }

  RunSummary summary;
  summary.file_errors = static_cast<int>(catalog.errors().size());
  while (!stop_requested()) {
    if (std::chrono::steady_clock::now() - rfm_refreshed > std::chrono::minutes(15) && node.leader()) {
      refresh_rfm();
      rfm_refreshed = std::chrono::steady_clock::now();
    }
    bool reload = take_reload_request();
    if (watcher) {
      reload = watcher->wait(std::chrono::milliseconds(250)) || reload;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (auto loaded = sources.refresh(node.leader(), reload); !loaded) {
      spdlog::error("reload failed: {}", loaded.error());
    } else if (*loaded) {
      engine.poke();
    }
    // Rates are for all nodes together: each sends its part.
    engine.set_rate_share(1.0 / node.live_nodes());
    (*subscribe)->set_rate_share(1.0 / node.live_nodes());
    // While sending, public hits (opens, clicks, webhooks) take turns: see set_public_handler_limit.
    if (http) http->set_public_handler_limit(engine.idle() ? 0 : 2);
    // Only the leader starts campaigns and runs timers; the others send what is queued. A
    // copy of new files just published gets a second to reach the others first.
    if (!node.leader() || !sources.settled()) continue;
    auto ticked = scheduler.tick();
    if (!ticked) {
      spdlog::error("scheduler: {}", ticked.error());
      status.set_loop_error("scheduler: " + ticked.error());
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    if (*ticked > 0) {
      summary.campaigns_started += *ticked;
      engine.poke();
    }
    if (auto steps = automations.tick(); !steps) {
      spdlog::error("automations: {}", steps.error());
      status.set_loop_error("automations: " + steps.error());
    } else {
      status.set_loop_error("");
      if (*steps > 0) engine.poke();
    }
    if (mode == RunMode::once && engine.idle()) {
      auto idle = scheduler.idle(false);
      if (idle && *idle) break;
    }
  }

  if (mode == RunMode::forever) {
    sd_notify("STOPPING=1");
    spdlog::info("stopping: draining in-flight sends");
  }
  engine.drain();
  node.stop();
  if (http) http->stop();
  // The writer runs jobs in order: once this no-op is done, every recorded outcome is committed.
  (void)(*store)->writer().run([](const store::Database&) -> Status { return {}; });
  (void)scheduler.tick();  // close campaigns the last sends finished
  (*store)->writer().stop();
  auto stats = engine.stats();
  summary.sent = stats.sent;
  summary.failed = stats.failed;
  summary.retried = stats.retried;
  summary.skipped = stats.skipped;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace campaignd::app
