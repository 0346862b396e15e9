// A streaming RFC 4180 CSV reader: one record at a time from a std::istream, so a file of
// millions of rows never sits in memory.
//
// Accepted: LF, CRLF or lone CR line ends; quoted fields with "" escapes, embedded commas and
// line breaks; a UTF-8 byte order mark at the very start; a missing final line break. Blank
// lines are skipped. Rejected, each as an error for that record only (the reader then resumes
// at the next physical line): a quote inside an unquoted field, anything but a comma or line
// end after a closing quote, a field that is not valid UTF-8. An unterminated quoted field at
// the end of input, or a record longer than `max_record_bytes`, ends the input: there is no
// safe place to resume from.
#pragma once

#include <cstddef>
#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace campaignd::util {

struct CsvRecord {
  std::vector<std::string> fields;
  long line = 0;  // physical line (1-based) where the record starts
};

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

class CsvReader {
 public:
  // `source_name` prefixes error messages ("contacts.csv:17: ..."); without one they read
  // "line 17: ...". The stream must outlive the reader.
  explicit CsvReader(std::istream& in, std::string source_name = {});

  // Reads the next record into `out` (its strings are reused, so pass the same record each
  // time). true: a record; false: end of input; error: this record is malformed and `out.line`
  // says where it starts; calling next() again continues with the following record.
  Result<bool> next(CsvRecord& out);

  // Bytes consumed from the stream so far, for progress against a file size.
  std::uint64_t bytes_consumed() const { return consumed_ + pos_; }

  static constexpr std::size_t kDefaultMaxRecordBytes = 1 << 20;
  void set_max_record_bytes(std::size_t n) { max_record_bytes_ = n; }

 private:
  static constexpr int kEof = -1;

  bool fill();
  int peek() { return (pos_ < len_ || fill()) ? static_cast<unsigned char>(buf_[pos_]) : kEof; }
  int get() { return (pos_ < len_ || fill()) ? static_cast<unsigned char>(buf_[pos_++]) : kEof; }
  // Consumes a line break whose first byte (CR or LF) was just read; counts the line.
  void finish_line_break(int first);
  void skip_rest_of_line();
  std::unexpected<Error> error(long line, const std::string& message);
  std::unexpected<Error> fatal(long line, const std::string& message);

  enum class FieldEnd { comma, record, eof };
  Result<FieldEnd> read_unquoted(std::string& field, std::size_t& record_bytes, std::size_t index);
  Result<FieldEnd> read_quoted(std::string& field, std::size_t& record_bytes, std::size_t index);

  std::istream& in_;
  std::string name_;
  std::vector<char> buf_;
  std::size_t pos_ = 0, len_ = 0;
  std::uint64_t consumed_ = 0;  // bytes of the stream before buf_[0]
  long line_ = 1;               // physical line of the next unread byte
  bool started_ = false;        // the BOM check has run
  bool done_ = false;           // input ended, or a fatal error
  std::size_t max_record_bytes_ = kDefaultMaxRecordBytes;
};

}  // namespace campaignd::util
