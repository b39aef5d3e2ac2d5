#include "binary_framework.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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

/// A read-only mapping of a whole file.
class Mapped {
  public:
    explicit Mapped(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return;
        struct stat st {};
        if (::fstat(fd, &st) == 0 && st.st_size > 0) {
            void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE,
                             fd, 0);
            if (p != MAP_FAILED) {
                data_ = static_cast<const char*>(p);
                size_ = static_cast<std::size_t>(st.st_size);
            }
        }
        ::close(fd);
    }
    ~Mapped() {
        if (data_) ::munmap(const_cast<char*>(data_), size_);
    }
    Mapped(const Mapped&) = delete;
    Mapped& operator=(const Mapped&) = delete;
    std::string_view bytes() const { return {data_ ? data_ : "", size_}; }

  private:
    const char* data_ = nullptr;
    std::size_t size_ = 0;
};

/// A 64-bit little-endian ELF file's sections, bounds-checked.
struct Elf {
    std::string_view file;
    std::vector<Elf64_Shdr> sections;
    std::string_view names;

    static std::optional<Elf> read(std::string_view file) {
        if (file.size() < sizeof(Elf64_Ehdr) || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0 ||
            file[EI_CLASS] != ELFCLASS64 || file[EI_DATA] != ELFDATA2LSB) {
            return std::nullopt;
        }
        Elf64_Ehdr eh;
        std::memcpy(&eh, file.data(), sizeof eh);
        if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > file.size() ||
            eh.e_shnum > (file.size() - eh.e_shoff) / sizeof(Elf64_Shdr)) {
            return std::nullopt;
        }
        Elf elf;
        elf.file = file;
        elf.sections.resize(eh.e_shnum);
        if (eh.e_shnum > 0) {
            std::memcpy(elf.sections.data(), file.data() + eh.e_shoff,
                        eh.e_shnum * sizeof(Elf64_Shdr));
        }
        if (eh.e_shstrndx < elf.sections.size())
            elf.names = elf.contents(elf.sections[eh.e_shstrndx]);
        return elf;
    }
    std::string_view contents(const Elf64_Shdr& s) const {
        if (s.sh_type == SHT_NOBITS || s.sh_offset > file.size() ||
            s.sh_size > file.size() - s.sh_offset) {
            return {};
        }
        return file.substr(s.sh_offset, s.sh_size);
    }
    std::string_view name(const Elf64_Shdr& s) const {
        if (s.sh_name >= names.size()) return {};
        const auto rest = names.substr(s.sh_name);
        return rest.substr(0, rest.find('\0'));
    }
    /// The DT_NEEDED library names.
    std::vector<std::string_view> needed() const {
        std::vector<std::string_view> out;
        for (const auto& s : sections) {
            if (s.sh_type != SHT_DYNAMIC || s.sh_link >= sections.size()) continue;
            const auto dynamic = contents(s);
            const auto strings = contents(sections[s.sh_link]);
            for (std::size_t off = 0; off + sizeof(Elf64_Dyn) <= dynamic.size();
                 off += sizeof(Elf64_Dyn)) {
                Elf64_Dyn d;
                std::memcpy(&d, dynamic.data() + off, sizeof d);
                if (d.d_tag == DT_NULL) break;
                if (d.d_tag != DT_NEEDED || d.d_un.d_val >= strings.size()) continue;
                const auto rest = strings.substr(d.d_un.d_val);
                out.push_back(rest.substr(0, rest.find('\0')));
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
    const Mapped file(path);
    const auto elf = Elf::read(file.bytes());
    if (!elf) return {{}, "not an ELF file"};
    for (const auto& s : elf->sections) {
        if (elf->name(s) == kWorkerSection) return {{}, "it has tend's worker section"};
    }
    const auto needed = elf->needed();
    for (const auto& lib : needed) {
        if (lib.rfind("libtend-worker", 0) == 0) return {{}, "links " + std::string(lib)};
    }
    // Read-only data: where string literals are (flag names, help texts).
    std::string found, why;
    bool worker = false;
    for (const auto& s : elf->sections) {
        if (s.sh_type != SHT_PROGBITS || !(s.sh_flags & SHF_ALLOC) ||
            (s.sh_flags & (SHF_WRITE | SHF_EXECINSTR))) {
            continue;
        }
        const auto data = elf->contents(s);
        if (data.find(kWorkerString) != std::string_view::npos) worker = true;
        for (const auto& n : kFlags) {
            if (found.find(n.framework) == std::string::npos &&
                data.find(n.text) != std::string_view::npos) {
                if (!found.empty()) found += ',';
                found += n.framework;
                why = "its read-only data names " + std::string(n.text);
            }
        }
    }
    if (worker) return {{}, "names TEND_WORKER_FDS"};
    for (const auto& lib : needed) {
        for (const auto& n : kLibraries) {
            if (lib.rfind(n.text, 0) == 0 && found.find(n.framework) == std::string::npos) {
                if (!found.empty()) found += ',';
                found += n.framework;
                why = "links " + std::string(lib);
            }
        }
    }
    if (found.empty()) return {{}, "it names no framework tend knows"};
    if (found.find(',') != std::string::npos) {
        // Two frameworks in one binary: which one's main runs cannot be
        // told from the file. Taken for a worker; tend.toml's `framework`
        // says otherwise.
        return {{}, "names more than one framework (" + found + "): set `framework` in tend.toml"};
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
        if (!ec) {
            const auto installed = self.parent_path().parent_path() / "libexec" / "tend-batch";
            if (::access(installed.c_str(), X_OK) == 0) return installed.string();
        }
        return std::string(TEND_BATCH_BUILD_PATH);
    }();
    return path;
}

}  // namespace tend
