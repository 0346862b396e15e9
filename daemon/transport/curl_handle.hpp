// RAII owners for libcurl's handles, and the one process-wide curl_global_init.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <string>

namespace campaignd::transport {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using CurlUrl = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlString = std::unique_ptr<char, CurlFreeDeleter>;

// curl_global_init exactly once, before the first handle; safe from any thread. Returns the
// init result (CURLE_OK normally), the same value on every call.
CURLcode ensure_curl_global_init();

}  // namespace campaignd::transport
