// tend's drop-in for CATCH_CONFIG_MAIN: compile it in the test target,
// against the user's own Catch2 2.13 header (<catch2/catch.hpp>, or the
// header TEND_CATCH2_HEADER names), and link the worker library. It holds
// the binary's Catch2 implementation and its main(); the binary is then a
// normal Catch2 binary run by hand and a tend worker when tend starts it.
#include "tend/catch2.hpp"
