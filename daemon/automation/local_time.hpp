// Contacts' local time for `at: HH:MM` steps and the dates of `date:` triggers.
//
// A contact's time zone comes from its attribute `timezone` (or `time_zone`, `tz`, `utc_offset`):
// an IANA name read from the system's zoneinfo files ("Europe/Paris"), or a fixed offset
// ("+02:00", "-0530", "UTC", "GMT+2", a number of hours). Unknown or absent: UTC.
// Thread-safe (parsed zone files are cached behind a mutex).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/util/clock.hpp"

namespace campaignd::automation {

inline constexpr const char* kSystemZoneinfo = "/usr/share/zoneinfo";

// Seconds east of UTC; nullopt when `text` is not a fixed offset.
std::optional<int> parse_fixed_offset(std::string_view text);
// The offset of IANA zone `name` at `t`; nullopt for an unknown or unreadable zone.
std::optional<int> zone_offset_at(const std::string& name, util::UnixTime t,
                                  const std::string& zoneinfo_dir = kSystemZoneinfo);
// The contact's offset at `t`, or nullopt when its attributes name no usable time zone.
std::optional<int> contact_utc_offset(const nlohmann::json& attrs, util::UnixTime t,
                                      const std::string& zoneinfo_dir = kSystemZoneinfo);

// The first instant at or after `from` when the contact's clock reads `minute_of_day`.
util::UnixTime next_local_time(util::UnixTime from, int minute_of_day, const nlohmann::json& attrs,
                               const std::string& zoneinfo_dir = kSystemZoneinfo);

// A `date:` trigger: `value` is a date attribute ("1990-05-17", "1990-05-17T…", "05-17" or
// "--05-17"); it fires each year at 00:00 UTC of the anniversary plus `offset_seconds`. Returns
// that firing instant when it lies within `window_seconds` before `now` (so a daemon that was
// down for less than the window still fires), else nullopt. A 29 February fires on 28 February
// in other years.
std::optional<util::UnixTime> date_trigger_due(std::string_view value, std::int64_t offset_seconds,
                                               util::UnixTime now, std::int64_t window_seconds);

}  // namespace campaignd::automation
