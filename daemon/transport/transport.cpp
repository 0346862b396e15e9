// make_transport picks the transport by url scheme; the envelope check both transports share.
#include "daemon/transport/transport.hpp"

#include "daemon/transport/maildir_transport.hpp"
#include "daemon/transport/smtp_transport.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::transport {

std::string redact_url(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  auto authority_begin = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_begin);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  auto authority = url.substr(authority_begin, authority_end - authority_begin);
  auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return std::string(url.substr(0, authority_begin)) + std::string(url.substr(authority_begin + at + 1));
}

namespace {

Status check_address(std::string_view what, std::string_view address) {
  for (unsigned char c : address) {
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>')
      return fail(std::string(what) + " contains a space, control character or angle bracket");
  }
  return {};
}

}  // namespace

Status check_envelope(const Envelope& envelope) {
  if (auto s = check_address("envelope sender", envelope.mail_from); !s) return s;
  if (envelope.rcpt_to.empty()) return fail("envelope recipient is empty");
  if (auto s = check_address("envelope recipient", envelope.rcpt_to); !s) return s;
  if (envelope.rcpt_to.find('@') == std::string::npos) return fail("envelope recipient has no @domain");
  return {};
}

Result<std::unique_ptr<Transport>> make_transport(const TransportOptions& options) {
  auto scheme_end = options.url.find("://");
  if (scheme_end == std::string::npos)
    return fail("transport url '" + redact_url(options.url) + "' has no scheme (expected maildir://, smtp:// or smtps://)");
  auto scheme = util::to_lower(std::string_view(options.url).substr(0, scheme_end));
  if (scheme == "maildir") return MaildirTransport::create(options);
  if (scheme == "smtp" || scheme == "smtps") return SmtpTransport::create(options);
  return fail("transport url '" + redact_url(options.url) + "' has unsupported scheme '" + scheme +
              "' (expected maildir://, smtp:// or smtps://)");
}

}  // namespace campaignd::transport
