// Fuzz target: the streaming CSV reader behind `campaignd import`. Every record must come out
// valid UTF-8 with a sane line number, and the reader must always reach the end of the input.
// The first byte picks a record size limit, so the "record too long" path is exercised too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "daemon/util/csv.hpp"

using namespace campaignd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max_record = data[0] < 128 ? util::CsvReader::kDefaultMaxRecordBytes : 1 + data[0] % 64;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  std::istringstream in(text);
  util::CsvReader reader(in, "fuzz.csv");
  reader.set_max_record_bytes(max_record);
  util::CsvRecord record;
  long last_line = 0;
  // Each call consumes at least one byte or ends the input, so this bounds a runaway loop.
  for (std::size_t calls = 0;; ++calls) {
    if (calls > text.size() + 2) {
      std::fprintf(stderr, "fuzz_csv: reader does not advance\n");
      std::abort();
    }
    auto r = reader.next(record);
    if (r && !*r) break;
    if (record.line < 1 || record.line < last_line) {
      std::fprintf(stderr, "fuzz_csv: record line %ld after %ld\n", record.line, last_line);
      std::abort();
    }
    last_line = record.line;
    if (!r) {
      if (r.error().empty()) std::abort();
      continue;
    }
    std::size_t bytes = 0;
    for (const auto& f : record.fields) {
      if (!util::is_valid_utf8(f)) {
        std::fprintf(stderr, "fuzz_csv: invalid UTF-8 in a field of line %ld\n", record.line);
        std::abort();
      }
      bytes += f.size();
    }
    if (bytes > max_record) {
      std::fprintf(stderr, "fuzz_csv: %zu-byte record over the %zu-byte limit\n", bytes, max_record);
      std::abort();
    }
  }
  if (reader.bytes_consumed() > text.size()) std::abort();
  return 0;
}
