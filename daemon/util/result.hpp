// Recoverable failures are values: std::expected with a message that says what and where.
#pragma once

#include <expected>
#include <string>

namespace campaignd {

using Error = std::string;

template <typename T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(std::string message) { return std::unexpected<Error>(std::move(message)); }

}  // namespace campaignd

