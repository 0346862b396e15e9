// Conversions: a purchase is credited to the last message the contact clicked (a human click)
// within the attribution window before it, as a `converted` event carrying the amount, tied to
// that send and campaign. Idempotent by the purchase's own key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

inline constexpr std::int64_t kDefaultAttributionWindowSeconds = 7 * 86400;

// Call inside the transaction that stored the purchase. True when a conversion was recorded.
Result<bool> attribute_purchase(const store::Database& db, std::int64_t contact_id, util::UnixTime at,
                                std::optional<double> amount, const std::string& purchase_key,
                                std::int64_t window_seconds = kDefaultAttributionWindowSeconds);

}  // namespace campaignd::tracking
