// campaignd: the one binary. Everything it does lives in the engine library; see cli/.
#include "daemon/cli/cli.hpp"

int main(int argc, char** argv) { return campaignd::cli::main(argc, argv); }
