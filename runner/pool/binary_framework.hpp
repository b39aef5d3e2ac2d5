// Which kind of test binary a path is: a tend worker, or an unmodified
// gtest, doctest or Catch2 binary that tend-batch runs in batches.
//
// Read from the file, never by running it: an unknown binary given a list
// flag it does not know may run every test it has. A worker is recognised
// by tend's worker library in it (its own ELF section, or the library among
// its DT_NEEDED, or the name of the descriptors variable in its read-only
// data); a framework by its command-line flags in its read-only data, or
// its shared library among its DT_NEEDED. What is not an ELF file (a
// script) or names none of them is taken for a worker, as before.
#pragma once

#include <string>
#include <string_view>

namespace tend {

/// tend.toml's and the run request's `framework`: "auto" (detect), "tend"
/// (a worker), or the framework of an unmodified binary.
inline constexpr std::string_view kFrameworkWords[] = {"auto", "tend", "gtest", "doctest",
                                                       "catch2"};
bool is_framework_word(std::string_view word);

struct DetectedFramework {
    /// Empty: a worker. Else "gtest", "doctest" or "catch2": run in batches.
    std::string batches;
    /// What was found, for a message: "links libgtest.so.1.12.1".
    std::string why;
};

/// Reads `path` (its ELF headers and read-only sections).
DetectedFramework detect_framework(const std::string& path);

/// What a run uses for a binary whose setting is `word` ("auto" or empty:
/// detect_framework(path); "tend": a worker; else that framework).
DetectedFramework resolve_framework(std::string_view word, const std::string& path);

/// The tend-batch executable: beside an installed tend
/// (`../libexec/tend-batch`), else the one of tend's build tree.
const std::string& batch_worker_path();

}  // namespace tend
