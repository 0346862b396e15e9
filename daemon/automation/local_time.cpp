// Time zones from TZif files (RFC 8536) and fixed offsets; anniversaries for date triggers.
#include "daemon/automation/local_time.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <mutex>
#include <vector>

#include "daemon/util/strings.hpp"

namespace campaignd::automation {

namespace {

struct Zone {
  std::vector<std::int64_t> transitions;  // sorted
  std::vector<int> offset_after;          // utoff in force from each transition
  int initial_offset = 0;                 // before the first transition
};

std::int64_t be(const std::string& b, std::size_t at, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b[at + i]);
  if (n == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

// RFC 8536: a v1 block with 32-bit times, then (version 2+) a second header and a block with
// 64-bit times, which is the one we read when present.
std::optional<Zone> parse_tzif(const std::string& b) {
  auto header = [&](std::size_t at, std::size_t counts[6]) {
    if (b.size() < at + 44 || b.compare(at, 4, "TZif") != 0) return false;
    for (int i = 0; i < 6; ++i) counts[i] = static_cast<std::size_t>(be(b, at + 20 + 4 * static_cast<std::size_t>(i), 4));
    return true;
  };
  std::size_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  if (!header(0, c)) return std::nullopt;
  std::size_t time_size = 4, at = 44;
  if (b[4] >= '2') {
    std::size_t v1 = c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    at = 44 + v1;
    if (!header(at, c)) return std::nullopt;
    at += 44;
    time_size = 8;
  }
  std::size_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0 || b.size() < at + timecnt * (time_size + 1) + typecnt * 6) return std::nullopt;
  Zone z;
  std::vector<int> type_offset(typecnt);
  std::vector<bool> type_dst(typecnt);
  std::size_t types_at = at + timecnt * (time_size + 1);
  for (std::size_t i = 0; i < typecnt; ++i) {
    type_offset[i] = static_cast<int>(be(b, types_at + i * 6, 4));
    type_dst[i] = b[types_at + i * 6 + 4] != 0;
  }
  z.initial_offset = type_offset[0];
  for (std::size_t i = 0; i < typecnt; ++i)
    if (!type_dst[i]) {
      z.initial_offset = type_offset[i];
      break;
    }
  for (std::size_t i = 0; i < timecnt; ++i) {
    auto idx = static_cast<unsigned char>(b[at + timecnt * time_size + i]);
    if (idx >= typecnt) return std::nullopt;
    z.transitions.push_back(be(b, at + i * time_size, time_size));
    z.offset_after.push_back(type_offset[idx]);
  }
  return z;
}

bool valid_zone_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.find("..") != std::string::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '_' || ch == '-' || ch == '+';
  });
}

}  // namespace

std::optional<int> parse_fixed_offset(std::string_view text) {
  std::string t = util::to_lower(util::trim(text));
  if (t == "utc" || t == "gmt" || t == "z") return 0;
  if (t.starts_with("utc") || t.starts_with("gmt")) t = t.substr(3);
  if (t.empty() || (t[0] != '+' && t[0] != '-')) return std::nullopt;
  int sign = t[0] == '-' ? -1 : 1;
  std::string rest = t.substr(1), hh, mm = "0";
  if (auto colon = rest.find(':'); colon != std::string::npos) {
    hh = rest.substr(0, colon);
    mm = rest.substr(colon + 1);
    if (mm.size() != 2) return std::nullopt;
  } else if (rest.size() == 4) {
    hh = rest.substr(0, 2);
    mm = rest.substr(2);
  } else {
    hh = rest;
  }
  long long h = 0, m = 0;
  if (hh.empty() || hh.size() > 2 || !util::parse_int(hh, h) || !util::parse_int(mm, m)) return std::nullopt;
  if (h < 0 || h > 14 || m < 0 || m > 59) return std::nullopt;
  return sign * static_cast<int>(h * 3600 + m * 60);
}

std::optional<int> zone_offset_at(const std::string& name, util::UnixTime t, const std::string& zoneinfo_dir) {
  if (!valid_zone_name(name)) return std::nullopt;
  static std::mutex mutex;
  static std::map<std::string, std::optional<Zone>> cache;  // by full path; nullopt = unusable
  std::string path = zoneinfo_dir + "/" + name;
  std::lock_guard lock(mutex);
  auto it = cache.find(path);
  if (it == cache.end()) {
    std::optional<Zone> zone;
    if (std::ifstream in(path, std::ios::binary); in) {
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      zone = parse_tzif(bytes);
    }
    if (cache.size() > 1000) cache.clear();  // bounded: names come from contact data
    it = cache.emplace(path, std::move(zone)).first;
  }
  if (!it->second) return std::nullopt;
  const Zone& z = *it->second;
  auto pos = std::upper_bound(z.transitions.begin(), z.transitions.end(), t);
  if (pos == z.transitions.begin()) return z.initial_offset;
  return z.offset_after[static_cast<std::size_t>(pos - z.transitions.begin() - 1)];
}

std::optional<int> contact_utc_offset(const nlohmann::json& attrs, util::UnixTime t, const std::string& zoneinfo_dir) {
  if (!attrs.is_object()) return std::nullopt;
  for (const char* key : {"timezone", "time_zone", "tz", "utc_offset"}) {
    auto it = attrs.find(key);
    if (it == attrs.end()) continue;
    if (it->is_number()) {
      double hours = it->get<double>();
      if (hours >= -14 && hours <= 14) return static_cast<int>(hours * 3600);
      continue;
    }
    if (!it->is_string()) continue;
    std::string value(util::trim(it->get<std::string>()));
    if (auto fixed = parse_fixed_offset(value)) return fixed;
    if (auto zoned = zone_offset_at(value, t, zoneinfo_dir)) return zoned;
  }
  return std::nullopt;
}

util::UnixTime next_local_time(util::UnixTime from, int minute_of_day, const nlohmann::json& attrs,
                               const std::string& zoneinfo_dir) {
  auto candidate = [&](int offset) {
    util::UnixTime local = from + offset;
    util::UnixTime day = local - (((local % 86400) + 86400) % 86400);
    util::UnixTime at = day + static_cast<util::UnixTime>(minute_of_day) * 60;
    if (at < local) at += 86400;
    return at - offset;
  };
  int offset = contact_utc_offset(attrs, from, zoneinfo_dir).value_or(0);
  util::UnixTime at = candidate(offset);
  // Across a DST change the offset at the target differs from the one now: aim once more.
  int there = contact_utc_offset(attrs, at, zoneinfo_dir).value_or(0);
  if (there != offset) {
    util::UnixTime again = candidate(there);
    if (again >= from) at = again;
  }
  return at;
}

std::optional<util::UnixTime> date_trigger_due(std::string_view value, std::int64_t offset_seconds,
                                               util::UnixTime now, std::int64_t window_seconds) {
  using namespace std::chrono;
  std::string_view v = util::trim(value);
  if (v.starts_with("--")) v.remove_prefix(2);
  long long month = 0, day = 0;
  if (v.size() >= 10 && v[4] == '-' && v[7] == '-') {
    if (!util::parse_int(v.substr(5, 2), month) || !util::parse_int(v.substr(8, 2), day)) return std::nullopt;
    long long year = 0;
    if (!util::parse_int(v.substr(0, 4), year)) return std::nullopt;
    if (v.size() > 10 && v[10] != 'T' && v[10] != ' ') return std::nullopt;
  } else if (v.size() == 5 && v[2] == '-') {
    if (!util::parse_int(v.substr(0, 2), month) || !util::parse_int(v.substr(3, 2), day)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  auto today = year_month_day(floor<days>(sys_seconds(seconds(now))));
  for (int dy : {-1, 0, 1}) {
    year y = today.year() + years(dy);
    year_month_day ymd(y, std::chrono::month(static_cast<unsigned>(month)), std::chrono::day(static_cast<unsigned>(day)));
    if (!ymd.ok()) {
      if (month == 2 && day == 29) ymd = year_month_day(y, February, std::chrono::day(28));
      else return std::nullopt;  // 31 April and the like
    }
    util::UnixTime fire = sys_days(ymd).time_since_epoch().count() * 86400 + offset_seconds;
    if (fire <= now && now < fire + window_seconds) return fire;
  }
  return std::nullopt;
}

}  // namespace campaignd::automation
