// The RFC 4180 reader. Bytes are scanned in place in a fixed buffer and appended to fields a
// span at a time: this is the per-row cost of a million-row import.
#include "daemon/util/csv.hpp"

namespace campaignd::util {

namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;

bool is_ascii(std::string_view s) {
  unsigned char any = 0;
  for (char c : s) any |= static_cast<unsigned char>(c);
  return any < 0x80;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int extra;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte first, an overlong lead (C0, C1) or past U+10FFFF
    }
    if (end - p <= extra) return false;
    for (int i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    p += extra + 1;
  }
  return true;
}

CsvReader::CsvReader(std::istream& in, std::string source_name)
    : in_(in), name_(std::move(source_name)), buf_(kBufferBytes) {}

bool CsvReader::fill() {
  if (!in_) return false;
  consumed_ += len_;
  pos_ = 0;
  in_.read(buf_.data(), static_cast<std::streamsize>(buf_.size()));
  len_ = static_cast<std::size_t>(in_.gcount());
  return len_ > 0;
}

void CsvReader::finish_line_break(int first) {
  if (first == '\r' && peek() == '\n') ++pos_;
  ++line_;
}

void CsvReader::skip_rest_of_line() {
  while (pos_ < len_ || fill()) {
    char c = buf_[pos_++];
    if (c == '\n' || c == '\r') {
      finish_line_break(static_cast<unsigned char>(c));
      return;
    }
  }
}

std::unexpected<Error> CsvReader::error(long line, const std::string& message) {
  return fail((name_.empty() ? "line " : name_ + ":") + std::to_string(line) + ": " + message);
}

std::unexpected<Error> CsvReader::fatal(long line, const std::string& message) {
  done_ = true;
  return error(line, message);
}

// ---- fields ----------------------------------------------------------------------------------

Result<CsvReader::FieldEnd> CsvReader::read_unquoted(std::string& field, std::size_t& record_bytes,
                                                     std::size_t index) {
  while (pos_ < len_ || fill()) {
    const char* start = buf_.data() + pos_;
    const char* end = buf_.data() + len_;
    const char* p = start;
    while (p < end && *p != ',' && *p != '\n' && *p != '\r' && *p != '"') ++p;
    field.append(start, p);
    record_bytes += static_cast<std::size_t>(p - start);
    pos_ += static_cast<std::size_t>(p - start);
    if (record_bytes > max_record_bytes_)
      return fatal(line_, "record longer than " + std::to_string(max_record_bytes_) + " bytes");
    if (p == end) continue;
    char c = buf_[pos_++];
    if (c == ',') return FieldEnd::comma;
    if (c == '"') {
      long line = line_;
      skip_rest_of_line();
      return error(line, "field " + std::to_string(index + 1) +
                             ": a quote inside an unquoted field (quote the whole field and double the quote)");
    }
    finish_line_break(static_cast<unsigned char>(c));
    return FieldEnd::record;
  }
  return FieldEnd::eof;
}

Result<CsvReader::FieldEnd> CsvReader::read_quoted(std::string& field, std::size_t& record_bytes, std::size_t index) {
  const long opened_on = line_;
  while (true) {
    if (pos_ >= len_ && !fill())
      return fatal(opened_on, "field " + std::to_string(index + 1) + ": quoted field opened here is never closed");
    const char* start = buf_.data() + pos_;
    const char* end = buf_.data() + len_;
    const char* p = start;
    while (p < end && *p != '"' && *p != '\n' && *p != '\r') ++p;
    field.append(start, p);
    record_bytes += static_cast<std::size_t>(p - start) + 1;
    pos_ += static_cast<std::size_t>(p - start);
    if (record_bytes > max_record_bytes_)
      return fatal(opened_on, "record longer than " + std::to_string(max_record_bytes_) +
                                  " bytes (is a quote left open?)");
    if (p == end) continue;
    char c = buf_[pos_++];
    if (c != '"') {  // a line break inside the quotes belongs to the value
      field.push_back(c);
      if (c == '\r' && peek() == '\n') field.push_back(static_cast<char>(get()));
      ++line_;
      continue;
    }
    int after = peek();
    if (after == '"') {
      ++pos_;
      field.push_back('"');
      continue;
    }
    if (after == ',') {
      ++pos_;
      return FieldEnd::comma;
    }
    if (after == '\n' || after == '\r') {
      ++pos_;
      finish_line_break(after);
      return FieldEnd::record;
    }
    if (after == kEof) return FieldEnd::eof;
    long line = line_;
    skip_rest_of_line();
    return error(line, "field " + std::to_string(index + 1) + ": text after the closing quote");
  }
}

// ---- records ---------------------------------------------------------------------------------

Result<bool> CsvReader::next(CsvRecord& out) {
  if (done_) return false;
  if (!started_) {
    started_ = true;
    if (fill() && len_ >= 3 && buf_[0] == '\xEF' && buf_[1] == '\xBB' && buf_[2] == '\xBF') pos_ = 3;
  }
  while (true) {  // blank lines are not records
    int c = peek();
    if (c == kEof) {
      done_ = true;
      return false;
    }
    if (c != '\n' && c != '\r') break;
    ++pos_;
    finish_line_break(c);
  }
  out.line = line_;
  std::size_t count = 0;
  std::size_t record_bytes = 0;
  while (true) {
    if (out.fields.size() <= count) out.fields.emplace_back();
    std::string& field = out.fields[count];
    field.clear();
    Result<FieldEnd> end = [&] {
      if (peek() != '"') return read_unquoted(field, record_bytes, count);
      ++pos_;
      return read_quoted(field, record_bytes, count);
    }();
    ++count;
    if (!end) {
      out.fields.resize(count);
      return std::unexpected(end.error());
    }
    if (*end != FieldEnd::comma) break;
  }
  out.fields.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& f = out.fields[i];
    if (!is_ascii(f) && !is_valid_utf8(f))
      return error(out.line, "field " + std::to_string(i + 1) + " is not valid UTF-8");
  }
  return true;
}

}  // namespace campaignd::util
