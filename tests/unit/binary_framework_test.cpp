#include "pool/binary_framework.hpp"

#include <doctest/doctest.h>
#include <elf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

using tend::detect_framework;
using tend::resolve_framework;

namespace {
std::string temp_file(const std::string& bytes) {
    char path[] = "/tmp/tend-framework-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    return path;
}
}  // namespace

TEST_SUITE("binary framework") {
    TEST_CASE("what is not an ELF file, or is cut short, is taken for a worker") {
        for (const std::string bytes :
             {std::string("#!/bin/sh\necho\n"), std::string(ELFMAG "\x02\x01", 6), std::string()}) {
            const auto path = temp_file(bytes);
            const auto found = detect_framework(path);
            CHECK(found.batches.empty());
            CHECK(found.why == "not an ELF file");
            std::remove(path.c_str());
        }
        CHECK(detect_framework("/nonexistent/binary").batches.empty());
        CHECK(detect_framework("/tmp").batches.empty());  // a directory
    }

    TEST_CASE("an ELF header whose section table lies outside the file is no ELF file") {
        Elf64_Ehdr eh{};
        std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_shentsize = sizeof(Elf64_Shdr);
        eh.e_shoff = 1u << 30;
        eh.e_shnum = 1000;
        const auto path = temp_file(std::string(reinterpret_cast<const char*>(&eh), sizeof eh));
        CHECK(detect_framework(path).why == "not an ELF file");
        std::remove(path.c_str());
    }

    TEST_CASE("a setting wins over the file") {
        CHECK(resolve_framework("gtest", "/nonexistent").batches == "gtest");
        CHECK(resolve_framework("tend", "/nonexistent").batches.empty());
        CHECK(resolve_framework("auto", "/nonexistent").why == "not an ELF file");
        CHECK(tend::is_framework_word("catch2"));
        CHECK_FALSE(tend::is_framework_word("boost"));
    }
}
