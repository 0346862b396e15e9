// Whether a failed delivery should suppress the address: RFC 3463 enhanced status codes first,
// then RFC 5321 basic reply codes, then the diagnostic phrases mail servers commonly use.
//   hard    the mailbox or domain does not exist: suppress now
//   soft    temporary or the recipient's condition (mailbox full): suppress after repeats
//   policy  a block aimed at the sender (x.7.x, spam/reputation, content): fix the sending side,
//           never suppress the contact for it
//   unknown nothing recognisable
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace campaignd::tracking::inbound {

enum class BounceClass { hard, soft, policy, unknown };

std::string_view to_string(BounceClass c);

struct EnhancedCode {
  int klass = 0;  // 2, 4 or 5
  int subject = 0;
  int detail = 0;
  std::string text() const;
};

// The first RFC 3463 code ("5.1.1", "4.2.2") in `text` that stands as a word of its own.
std::optional<EnhancedCode> find_enhanced_code(std::string_view text);
// The first RFC 5321 reply code (2yz, 4yz, 5yz) in a diagnostic such as "smtp; 550 ...", at
// the start of the text or after "smtp;".
std::optional<int> find_basic_code(std::string_view text);

struct BounceVerdict {
  BounceClass klass = BounceClass::unknown;
  std::string code;    // the enhanced code the verdict rests on ("5.1.1"), or the basic one ("550")
  std::string reason;  // why, in a few words ("bad destination mailbox", "mailbox full")
};

// `status` is a DSN Status field (may be empty), `diagnostic` a Diagnostic-Code or SMTP reply
// text, `action` a DSN Action ("failed", "delayed"; may be empty).
BounceVerdict classify_bounce(std::string_view status, std::string_view diagnostic, std::string_view action = {});

}  // namespace campaignd::tracking::inbound
