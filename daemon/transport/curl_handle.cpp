// The process-wide libcurl initialisation, done once whoever gets there first.
#include "daemon/transport/curl_handle.hpp"

#include <mutex>

namespace campaignd::transport {

CURLcode ensure_curl_global_init() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

}  // namespace campaignd::transport
