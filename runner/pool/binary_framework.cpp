#include "binary_framework.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>

namespace tend {
namespace {

/// The marker section the worker runtime puts in every worker
/// (worker/runtime.cpp).
constexpr std::string_view kWorkerSection = ".tend.worker";
/// Strings whose presence in read-only data says what the binary is.
constexpr std::string_view kWorkerString = "TEND_WORKER_FDS";
struct Needle {
    std::string_view framework;
    std::string_view text;
};
constexpr Needle kFlags[] = {{"gtest", "gtest_list_tests"},
                             {"doctest", "list-test-cases"},
                             {"catch2", "list-test-names-only"}};
constexpr Needle kLibraries[] = {{"gtest", "libgtest"}};

/// A regular file read with pread(): never mapped, so a binary rewritten
/// while it is read gives short reads, not a SIGBUS in tend or its daemon.
class File {
  public:
    explicit File(const std::string& path) {
        // O_NONBLOCK: a FIFO named as a binary must not block tend.
        fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        struct stat st {};
        if (fd_ >= 0 && (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode))) {
            ::close(fd_);
            fd_ = -1;
        }
        if (fd_ >= 0) size_ = static_cast<std::uint64_t>(st.st_size);
    }
    ~File() {
        if (fd_ >= 0) ::close(fd_);
    }
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    std::uint64_t size() const { return size_; }
    /// `bytes` at `offset`, or empty if the file does not hold them (now).
    std::string read(std::uint64_t offset, std::uint64_t bytes) const {
        if (fd_ < 0 || offset > size_ || bytes > size_ - offset || bytes > kMaxRead) return {};
        std::string out(static_cast<std::size_t>(bytes), '\0');
        std::size_t got = 0;
        while (got < out.size()) {
            const ssize_t n =
                ::pread(fd_, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return {};
            got += static_cast<std::size_t>(n);
        }
        return out;
    }

  private:
    /// A section bigger than this is not read (no test binary's read-only
    /// data comes near it).
    static constexpr std::uint64_t kMaxRead = 1ull << 30;
    int fd_ = -1;
    std::uint64_t size_ = 0;
};

/// A 64-bit little-endian ELF file's sections, bounds-checked.
struct Elf {
    const File* file = nullptr;
    std::vector<Elf64_Shdr> sections;
    std::string names;

    static std::optional<Elf> read(const File& file) {
        const std::string head = file.read(0, sizeof(Elf64_Ehdr));
        if (head.size() != sizeof(Elf64_Ehdr) || std::memcmp(head.data(), ELFMAG, SELFMAG) != 0 ||
            head[EI_CLASS] != ELFCLASS64 || head[EI_DATA] != ELFDATA2LSB) {
            return std::nullopt;
        }
        Elf64_Ehdr eh;
        std::memcpy(&eh, head.data(), sizeof eh);
        if (eh.e_shentsize != sizeof(Elf64_Shdr)) return std::nullopt;
        Elf elf;
        elf.file = &file;
        const std::string table =
            file.read(eh.e_shoff, std::uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr));
        if (table.size() != std::size_t{eh.e_shnum} * sizeof(Elf64_Shdr)) return std::nullopt;
        elf.sections.resize(eh.e_shnum);
        if (eh.e_shnum > 0) std::memcpy(elf.sections.data(), table.data(), table.size());
        if (eh.e_shstrndx < elf.sections.size())
            elf.names = elf.contents(elf.sections[eh.e_shstrndx]);
        return elf;
    }
    std::string contents(const Elf64_Shdr& s) const {
        if (s.sh_type == SHT_NOBITS) return {};
        return file->read(s.sh_offset, s.sh_size);
    }
    std::string_view name(const Elf64_Shdr& s) const {
        if (s.sh_name >= names.size()) return {};
        const auto rest = std::string_view(names).substr(s.sh_name);
        return rest.substr(0, rest.find('\0'));
    }
    /// The DT_NEEDED library names.
    std::vector<std::string> needed() const {
        std::vector<std::string> out;
        for (const auto& s : sections) {
            if (s.sh_type != SHT_DYNAMIC || s.sh_link >= sections.size()) continue;
            const std::string dynamic = contents(s);
            const std::string strings = contents(sections[s.sh_link]);
            for (std::size_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic.size();
                 off += sizeof(Elf64_Dyn)) {
                Elf64_Dyn d;
                std::memcpy(&d, dynamic.data() + off, sizeof d);
                if (d.d_tag == DT_NULL) break;
                if (d.d_tag != DT_NEEDED || d.d_un.d_val >= strings.size()) continue;
                const auto rest = std::string_view(strings).substr(d.d_un.d_val);
                out.emplace_back(rest.substr(0, rest.find('\0')));
            }
        }
        return out;
    }
};

}  // namespace

bool is_framework_word(std::string_view word) {
    return std::find(std::begin(kFrameworkWords), std::end(kFrameworkWords), word) !=
           std::end(kFrameworkWords);
}

DetectedFramework detect_framework(const std::string& path) {
    const File file(path);
    const auto elf = Elf::read(file);
    if (!elf) return {{}, "not an ELF file"};
    for (const auto& s : elf->sections) {
        if (elf->name(s) == kWorkerSection) return {{}, "it has tend's worker section"};
    }
    const auto needed = elf->needed();
    for (const auto& lib : needed) {
        if (lib.rfind("libtend-worker", 0) == 0) return {{}, "links " + lib};
    }
    // Read-only data: where string literals are (flag names, help texts).
    std::string found, why;
    bool worker = false;
    for (const auto& s : elf->sections) {
        if (s.sh_type != SHT_PROGBITS || !(s.sh_flags & SHF_ALLOC) ||
            (s.sh_flags & (SHF_WRITE | SHF_EXECINSTR))) {
            continue;
        }
        const std::string data = elf->contents(s);
        if (data.find(kWorkerString) != std::string::npos) worker = true;
        for (const auto& n : kFlags) {
            if (found.find(n.framework) == std::string::npos &&
                data.find(n.text) != std::string::npos) {
                if (!found.empty()) found += ',';
                found += n.framework;
                why = "its read-only data names " + std::string(n.text);
            }
        }
    }
    if (worker) return {{}, "names TEND_WORKER_FDS"};
    // A framework's shared library counts only when the binary's own data
    // names none: a doctest or Catch2 binary may link gmock's libgtest.
    if (found.empty()) {
        for (const auto& lib : needed) {
            for (const auto& n : kLibraries) {
                if (lib.rfind(n.text, 0) == 0) {
                    found = std::string(n.framework);
                    why = "links " + lib;
                }
            }
        }
    }
    if (found.empty()) return {{}, "it names no framework tend knows"};
    if (found.find(',') != std::string::npos) {
        // Two frameworks in one binary: which one's main runs cannot be
        // told from the file. Taken for a worker; tend.toml's `framework`
        // says otherwise.
        return {{},
                "it names more than one framework (" + found + "): set `framework` in tend.toml"};
    }
    return {found, why};
}

DetectedFramework resolve_framework(std::string_view word, const std::string& path) {
    if (word.empty() || word == "auto") return detect_framework(path);
    if (word == "tend") return {{}, "framework = \"tend\""};
    return {std::string(word), "framework = \"" + std::string(word) + "\""};
}

const std::string& batch_worker_path() {
    static const std::string path = [] {
        std::error_code ec;
        const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
        // Installed: meson's libexecdir, relative to the prefix (tend is in
        // its bindir, one level down) unless it is absolute.
        const std::filesystem::path libexec(TEND_LIBEXECDIR);
        const auto installed =
            libexec.is_absolute()
                ? libexec / "tend-batch"
                : (ec ? std::filesystem::path() : self.parent_path().parent_path() / libexec) /
                      "tend-batch";
        if (!installed.empty() && ::access(installed.c_str(), X_OK) == 0) return installed.string();
        return std::string(TEND_BATCH_BUILD_PATH);
    }();
    return path;
}

}  // namespace tend
