// tend's drop-in for doctest's main (doctest's doctest_with_main, or a source
// file defining DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN): compile it in the test
// target, against the user's own doctest headers, and link the worker
// library. It holds the binary's doctest implementation and its main(); the
// binary is then a normal doctest binary run by hand and a tend worker when
// tend starts it. Which doctest: <doctest/doctest.h> on the target's include
// path, or the header TEND_DOCTEST_HEADER names (tend/doctest.hpp).
#include "tend/doctest.hpp"
