// The SubscribeURL GET on libcurl, with redirects off so the AWS host check cannot be escaped.
#include "daemon/tracking/webhooks/sns_subscription.hpp"

#include <curl/curl.h>

#include <memory>

#include "daemon/tracking/webhooks/signature.hpp"

namespace campaignd::tracking::webhooks {

namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

size_t discard(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

Status confirm_sns_subscription(const std::string& subscribe_url) {
  if (!is_amazonaws_https_url(subscribe_url)) return fail("SubscribeURL is not an https amazonaws.com address");
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return fail("cannot create a curl handle");
  curl_easy_setopt(curl.get(), CURLOPT_URL, subscribe_url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, discard);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) return fail(std::string("SubscribeURL: ") + curl_easy_strerror(rc));
  long code = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) return fail("SubscribeURL answered " + std::to_string(code));
  return {};
}

}  // namespace campaignd::tracking::webhooks
