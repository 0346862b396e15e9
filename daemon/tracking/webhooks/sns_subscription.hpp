// Confirming an Amazon SNS subscription: a GET of the SubscribeURL of a verified
// SubscriptionConfirmation. Only https URLs on amazonaws.com hosts are ever followed.
#pragma once

#include <string>

#include "daemon/util/result.hpp"

namespace campaignd::tracking::webhooks {

// Blocks for at most ~10 s; an error when the URL is not an AWS one, the request fails, or the
// answer is not 2xx. Thread-safe (one curl handle per call).
Status confirm_sns_subscription(const std::string& subscribe_url);

}  // namespace campaignd::tracking::webhooks
