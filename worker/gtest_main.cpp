// tend's drop-in for gtest_main: compile it in the test target, against the
// user's own gtest headers, and link the worker library (not libgtest_main).
// The binary is then a normal gtest binary run by hand and a tend worker
// when tend starts it.
#include <gtest/gtest.h>

#include "tend/gtest.hpp"

int main(int argc, char** argv) {
    return tend::gtest_main(argc, argv);
}
