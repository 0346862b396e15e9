// Loading the adapters with their secrets, and one webhook post from request to commit.
#include "daemon/tracking/webhooks/webhook_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/store/webhook_nonces.hpp"
#include "daemon/tracking/webhooks/event_mapper.hpp"
#include "daemon/tracking/webhooks/sns_subscription.hpp"

namespace campaignd::tracking::webhooks {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::int64_t kNoncePurgeEvery = 60;             // seconds between purges of old nonces
constexpr std::int64_t kNonceKeepWithoutTolerance = 30 * 86400;

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
std::string parse_reason(const json::parse_error& e) {
  std::string what = e.what();
  if (auto close = what.find("] "); what.starts_with("[json.exception") && close != std::string::npos)
    what.erase(0, close + 2);
  return "malformed JSON: " + what;
}

Result<std::vector<PublicKey>> read_certificates(const std::vector<std::string>& files) {
  std::vector<PublicKey> out;
  for (const auto& file : files) {
    auto pem = read_file(file);
    if (!pem) return std::unexpected(pem.error());
    auto key = PublicKey::from_certificate_pem(*pem);
    if (!key) return fail(file + ": " + key.error());
    out.push_back(std::move(*key));
  }
  return out;
}

}  // namespace

// ---- Loading ---------------------------------------------------------------------------------

WebhookService::Credentials WebhookService::load_credentials(const Adapter& a, std::vector<PlacedError>& errors) {
  Credentials c;
  const auto& sig = a.signature;
  if (sig.scheme == Scheme::none) return c;
  const char* env = std::getenv(sig.secret_env.c_str());
  std::string secret = env ? env : "";
  auto unusable = [&](const std::string& why) {
    c.problem = why;
    errors.push_back({{a.file, 0, 0}, why});
  };
  switch (sig.scheme) {
    case Scheme::sns_rsa: {
      std::vector<std::string> files = sig.certificate_files;
      if (files.empty() && !secret.empty()) {
        if (secret.starts_with("-----BEGIN")) {
          auto key = PublicKey::from_certificate_pem(secret);
          if (!key) unusable(sig.secret_env + ": " + key.error());
          else c.certificates.push_back(std::move(*key));
          return c;
        }
        files.push_back(secret);
      }
      if (files.empty()) {
        c.problem = "no certificate_file and " + sig.secret_env + " is not set";
        return c;
      }
      auto certs = read_certificates(files);
      if (!certs) unusable(certs.error());
      else c.certificates = std::move(*certs);
      return c;
    }
    default:
      break;
  }
  if (secret.empty()) {
    c.problem = sig.secret_env + " is not set";
    return c;
  }
  switch (sig.scheme) {
    case Scheme::sendgrid_ecdsa: {
      auto key = PublicKey::from_sendgrid_key(secret);
      if (!key) unusable(sig.secret_env + ": " + key.error());
      else c.public_key = std::move(*key);
      break;
    }
    case Scheme::standard_webhooks: {
      auto key = decode_standard_webhooks_secret(secret);
      if (!key) unusable(sig.secret_env + ": " + key.error());
      else c.secret = std::move(*key);
      break;
    }
    case Scheme::postmark_basic:
      if (secret.find(':') == std::string::npos) unusable(sig.secret_env + ": expected user:password");
      else c.secret = secret;
      break;
    default:
      c.secret = secret;
      break;
  }
  return c;
}

Result<WebhookService> WebhookService::load(const std::string& webhooks_dir, EventRecorder& recorder,
                                            const util::Clock& clock, store::Store& store,
                                            std::vector<PlacedError>& errors) {
  WebhookService service(recorder, clock, store);
  std::error_code ec;
  if (!fs::exists(webhooks_dir, ec)) {
    spdlog::info("webhooks: no folder {}, no provider webhooks", webhooks_dir);
    return service;
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(webhooks_dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path());
  }
  if (ec) return fail("cannot list " + webhooks_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto adapter = load_adapter(file.string(), errors);
    if (!adapter) continue;
    if (service.providers_.contains(adapter->provider)) {
      errors.push_back({{file.string(), 0, 0}, "provider '" + adapter->provider + "' is defined twice"});
      continue;
    }
    auto provider = std::make_shared<Provider>();
    provider->credentials = load_credentials(*adapter, errors);
    provider->adapter = std::move(*adapter);
    const auto& a = provider->adapter;
    if (a.signature.scheme == Scheme::none)
      spdlog::warn("webhooks: {} accepts unsigned posts (signature scheme none)", a.provider);
    else if (!provider->credentials.problem.empty())
      spdlog::info("webhooks: {} refuses posts until configured: {}", a.provider, provider->credentials.problem);
    service.providers_[a.provider] = std::move(provider);
  }
  return service;
}

std::vector<std::string> WebhookService::providers() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : providers_) out.push_back(name);
  return out;
}

// ---- One post --------------------------------------------------------------------------------

http::HttpResponse WebhookService::handle(const std::string& provider, const http::HttpRequest& request) {
  auto found = providers_.find(provider);
  if (found == providers_.end()) return http::HttpResponse::error(404, "unknown webhook provider '" + provider + "'");
  const Provider& p = *found->second;
  const Adapter& a = p.adapter;
  const Credentials& creds = p.credentials;
  if (request.body.size() > a.max_body_bytes) return http::HttpResponse::error(413, "request body too large");
  auto refuse = [&](const std::string& reason) {
    spdlog::warn("webhooks: {} post from {} refused: {}", provider, request.remote_addr, reason);
    return http::HttpResponse::error(401, reason);
  };
  if (a.signature.scheme != Scheme::none && !creds.problem.empty())
    return refuse("webhook secret not configured (" + creds.problem + ")");

  util::UnixTime now = clock_->now();
  // Header-signed schemes are checked before the body is even parsed.
  Status header_check;
  switch (a.signature.scheme) {
    case Scheme::sendgrid_ecdsa:
      header_check = verify_sendgrid_ecdsa(*creds.public_key, request, now, a.signature.tolerance_s);
      break;
    case Scheme::postmark_basic:
      header_check = verify_postmark_basic(creds.secret, request);
      break;
    case Scheme::standard_webhooks:
      header_check = verify_standard_webhooks(creds.secret, request, now, a.signature.tolerance_s);
      break;
    default:
      break;
  }
  if (!header_check) return refuse(header_check.error());

  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::parse_error& e) {
    return http::HttpResponse::error(400, parse_reason(e));
  }

  std::optional<std::string> nonce;
  if (a.signature.scheme == Scheme::mailgun_hmac) {
    auto token = verify_mailgun_hmac(creds.secret, body, now, a.signature.tolerance_s);
    if (!token) return refuse(token.error());
    nonce = *token;
  } else if (a.signature.scheme == Scheme::sns_rsa) {
    if (auto s = verify_sns_rsa(creds.certificates, a.signature.topic_arns, body); !s) return refuse(s.error());
    if (body.value("Type", "") != "Notification") return handle_sns_control(p, body);
  }

  Result<MappedPost> mapped = fail("");
  try {
    mapped = map_post(a, body, request);
  } catch (const json::exception& e) {
    mapped = fail(std::string("unexpected payload: ") + e.what());
  }
  if (!mapped) return http::HttpResponse::error(400, mapped.error());

  auto counts = record(p, mapped->events, nonce);
  if (!counts) {
    spdlog::error("webhooks: {} post not recorded: {}", provider, counts.error());
    return http::HttpResponse::error(503, "events could not be stored, retry later");
  }
  if (counts->replayed) return refuse("replayed signature token");
  return http::HttpResponse::json(
      200, json{{"accepted", counts->accepted}, {"duplicates", counts->duplicates}, {"ignored", mapped->ignored}});
}

http::HttpResponse WebhookService::handle_sns_control(const Provider& p, const json& body) {
  std::string type = body.value("Type", "");
  std::string topic = body.value("TopicArn", "");
  if (type == "UnsubscribeConfirmation") {
    spdlog::warn("webhooks: {}: SNS topic {} unsubscribed this endpoint", p.adapter.provider, topic);
    return http::HttpResponse::json(200, json{{"subscription", "unsubscribed"}});
  }
  std::string url = body.value("SubscribeURL", "");
  if (!is_amazonaws_https_url(url)) {
    spdlog::warn("webhooks: {}: SubscribeURL {} is not an amazonaws.com https address, not followed",
                 p.adapter.provider, url);
    return http::HttpResponse::error(400, "SubscribeURL is not an https amazonaws.com address");
  }
  if (!p.adapter.signature.confirm_subscriptions) {
    spdlog::warn("webhooks: {}: SNS subscription to {} awaits confirmation; open this URL to confirm: {}",
                 p.adapter.provider, topic, url);
    return http::HttpResponse::json(200, json{{"subscription", "logged"}});
  }
  Status confirmed = confirmer_ ? confirmer_(url) : confirm_sns_subscription(url);
  if (!confirmed) {
    spdlog::error("webhooks: {}: confirming the SNS subscription to {} failed: {}", p.adapter.provider, topic,
                  confirmed.error());
    return http::HttpResponse::error(503, "subscription confirmation failed, retry later");
  }
  spdlog::info("webhooks: {}: confirmed the SNS subscription to {}", p.adapter.provider, topic);
  return http::HttpResponse::json(200, json{{"subscription", "confirmed"}});
}

Result<WebhookService::Counts> WebhookService::record(const Provider& p, const std::vector<ResponseEvent>& events,
                                                      const std::optional<std::string>& nonce) {
  Counts counts;
  util::UnixTime now = clock_->now();
  std::int64_t tolerance = p.adapter.signature.tolerance_s;
  bool purge = false;
  if (nonce) {
    util::UnixTime last = last_nonce_purge_->load();
    purge = now - last >= kNoncePurgeEvery && last_nonce_purge_->compare_exchange_strong(last, now);
  }
  auto status = store_->writer().run([&](const store::Database& db) -> Status {
    counts = {};
    if (nonce) {
      store::WebhookNonceRepository nonces(db);
      if (purge) {
        // Twice the tolerance: a token older than that fails the timestamp check anyway.
        std::int64_t keep = tolerance > 0 ? 2 * tolerance : kNonceKeepWithoutTolerance;
        if (auto s = nonces.forget_before(p.adapter.provider, now - keep); !s) return s;
      }
      auto fresh = nonces.remember(p.adapter.provider, *nonce, now);
      if (!fresh) return std::unexpected(fresh.error());
      if (!*fresh) {
        counts.replayed = true;
        return {};
      }
    }
    for (const auto& e : events) {
      auto outcome = recorder_->record_in(db, e);
      if (!outcome) return std::unexpected(outcome.error());
      if (outcome->duplicate)
        ++counts.duplicates;
      else
        ++counts.accepted;
    }
    return {};
  }, store::Batching::gather);
  if (!status) return std::unexpected(status.error());
  return counts;
}

// ---- validate --------------------------------------------------------------------------------

Status validate_file(const std::string& path, std::vector<PlacedError>& errors) {
  std::size_t before = errors.size();
  auto adapter = load_adapter(path, errors);
  if (adapter)
    for (const auto& file : adapter->signature.certificate_files) {
      auto pem = read_file(file);
      if (!pem) {
        errors.push_back({{path, 0, 0}, "certificate_file: " + pem.error()});
        continue;
      }
      if (auto key = PublicKey::from_certificate_pem(*pem); !key)
        errors.push_back({{path, 0, 0}, "certificate_file " + file + ": " + key.error()});
    }
  if (errors.size() > before) return fail(std::to_string(errors.size() - before) + " error(s) in " + path);
  return {};
}

}  // namespace campaignd::tracking::webhooks
