// The command line of SPEC.md: parses argv, dispatches to one command, maps outcomes to exit
// codes (0 ok, 1 user error, 2 internal error).
#pragma once

namespace campaignd::cli {

int main(int argc, char** argv);

}  // namespace campaignd::cli
