#include "app/elf_file.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <vector>

namespace pf::app {
namespace {

Error not_elf(const std::filesystem::path& path, const std::string& why) {
    return make_error(ErrorCode::UnsupportedFormat,
                      path.string() + " is not a usable ELF file: " + why);
}

// The file with bounds-checked reads of byte ranges.
class ElfReader {
public:
    explicit ElfReader(const std::filesystem::path& path) : path_(path), in_(path, std::ios::binary) {
        std::error_code ec;
        size_ = std::filesystem::file_size(path, ec);
        if (ec) {
            size_ = 0;
        }
    }
    bool open() const { return static_cast<bool>(in_); }
    std::uint64_t size() const { return size_; }

    Result<std::string> read(std::uint64_t offset, std::uint64_t length) {
        if (offset > size_ || length > size_ - offset) {
            return not_elf(path_, "a table or section lies outside the file");
        }
        std::string bytes(length, '\0');
        in_.clear();
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(bytes.data(), static_cast<std::streamsize>(length));
        if (static_cast<std::uint64_t>(in_.gcount()) != length) {
            return make_error(ErrorCode::Internal, "short read from " + path_.string());
        }
        return bytes;
    }

private:
    std::filesystem::path path_;
    std::ifstream in_;
    std::uint64_t size_ = 0;
};

struct ElfTables {
    Elf64_Ehdr header{};
    std::vector<Elf64_Phdr> segments;
    std::vector<Elf64_Shdr> sections;
    std::string section_names;
};

template <typename T>
Result<std::vector<T>> read_table(ElfReader& file, const std::filesystem::path& path,
                                  std::uint64_t offset, std::uint64_t count,
                                  std::uint64_t entry_size) {
    if (count == 0) {
        return std::vector<T>{};
    }
    if (entry_size != sizeof(T)) {
        return not_elf(path, "unexpected table entry size");
    }
    if (count * entry_size > kMaxElfTableBytes) {
        return not_elf(path, "table too large");
    }
    auto bytes = file.read(offset, count * entry_size);
    if (!bytes) {
        return bytes.error();
    }
    std::vector<T> table(count);
    std::memcpy(table.data(), bytes->data(), bytes->size());
    return table;
}

Result<ElfTables> read_tables(ElfReader& file, const std::filesystem::path& path,
                              bool need_sections) {
    if (!file.open()) {
        return make_error(ErrorCode::NotFound, "cannot open " + path.string());
    }
    auto head = file.read(0, sizeof(Elf64_Ehdr));
    if (!head) {
        return not_elf(path, "too short");
    }
    ElfTables t;
    std::memcpy(&t.header, head->data(), sizeof t.header);
    const unsigned char* id = t.header.e_ident;
    if (std::memcmp(id, ELFMAG, SELFMAG) != 0) {
        return not_elf(path, "no ELF magic");
    }
    if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB) {
        return not_elf(path, "only 64-bit little-endian ELF is supported");
    }
    auto segments = read_table<Elf64_Phdr>(file, path, t.header.e_phoff, t.header.e_phnum,
                                           t.header.e_phentsize);
    if (!segments) {
        return segments.error();
    }
    t.segments = std::move(*segments);
    if (!need_sections) {
        return t;
    }
    if (t.header.e_shnum == 0 || t.header.e_shstrndx == SHN_UNDEF ||
        t.header.e_shstrndx >= t.header.e_shnum) {
        return not_elf(path, "no section table (extended numbering is not supported)");
    }
    auto sections = read_table<Elf64_Shdr>(file, path, t.header.e_shoff, t.header.e_shnum,
                                           t.header.e_shentsize);
    if (!sections) {
        return sections.error();
    }
    t.sections = std::move(*sections);
    const Elf64_Shdr& names = t.sections[t.header.e_shstrndx];
    if (names.sh_size > kMaxElfTableBytes) {
        return not_elf(path, "section name table too large");
    }
    auto name_bytes = file.read(names.sh_offset, names.sh_size);
    if (!name_bytes) {
        return name_bytes.error();
    }
    t.section_names = std::move(*name_bytes);
    return t;
}

std::string_view section_name(const ElfTables& t, const Elf64_Shdr& s) {
    if (s.sh_name >= t.section_names.size()) {
        return {};
    }
    const char* start = t.section_names.data() + s.sh_name;
    return std::string_view(start, strnlen(start, t.section_names.size() - s.sh_name));
}

bool is_debug_section(std::string_view name) {
    return name.starts_with(".debug") || name.starts_with(".zdebug");
}

}  // namespace

Result<ElfInfo> read_elf_info(const std::filesystem::path& path) {
    ElfReader file(path);
    auto t = read_tables(file, path, false);
    if (!t) {
        return t.error();
    }
    ElfInfo info;
    info.machine = t->header.e_machine;
    for (const auto& p : t->segments) {
        if (p.p_type != PT_INTERP) {
            continue;
        }
        if (p.p_filesz == 0 || p.p_filesz > 4096) {
            return not_elf(path, "bad PT_INTERP");
        }
        auto bytes = file.read(p.p_offset, p.p_filesz);
        if (!bytes) {
            return bytes.error();
        }
        info.interpreter = std::string(bytes->c_str());  // NUL-terminated inside the segment
    }
    return info;
}

Result<std::string> copy_without_debug_sections(const std::filesystem::path& path) {
    ElfReader file(path);
    auto t = read_tables(file, path, true);
    if (!t) {
        return t.error();
    }
    // Everything the loader maps (and the headers) is kept exactly where it is.
    std::uint64_t keep = sizeof(Elf64_Ehdr);
    keep = std::max<std::uint64_t>(keep, t->header.e_phoff +
                                             std::uint64_t{t->header.e_phnum} * sizeof(Elf64_Phdr));
    for (const auto& p : t->segments) {
        keep = std::max<std::uint64_t>(keep, p.p_offset + p.p_filesz);
    }
    for (const auto& s : t->sections) {
        if ((s.sh_flags & SHF_ALLOC) != 0 && s.sh_type != SHT_NOBITS) {
            keep = std::max<std::uint64_t>(keep, s.sh_offset + s.sh_size);
        }
    }
    if (keep > file.size()) {
        return not_elf(path, "segments lie outside the file");
    }
    auto prefix = file.read(0, keep);
    if (!prefix) {
        return prefix.error();
    }
    std::string out = std::move(*prefix);

    // The sections after that, in file order: debug ones dropped, the others appended.
    std::vector<std::size_t> order;
    for (std::size_t i = 1; i < t->sections.size(); ++i) {
        const auto& s = t->sections[i];
        if (s.sh_type != SHT_NOBITS && s.sh_type != SHT_NULL && s.sh_offset >= keep) {
            order.push_back(i);
        }
    }
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return t->sections[a].sh_offset < t->sections[b].sh_offset;
    });
    for (std::size_t i : order) {
        Elf64_Shdr& s = t->sections[i];
        if (is_debug_section(section_name(*t, s))) {
            Elf64_Word name = s.sh_name;
            std::memset(&s, 0, sizeof s);
            s.sh_name = name;  // keeps its name for readers; SHT_NULL = no section
            continue;
        }
        auto bytes = file.read(s.sh_offset, s.sh_size);
        if (!bytes) {
            return bytes.error();
        }
        std::uint64_t align = std::max<std::uint64_t>(1, s.sh_addralign);
        out.resize((out.size() + align - 1) / align * align, '\0');
        s.sh_offset = out.size();
        out += *bytes;
    }
    out.resize((out.size() + 7) / 8 * 8, '\0');
    Elf64_Ehdr header = t->header;
    header.e_shoff = out.size();
    out.append(reinterpret_cast<const char*>(t->sections.data()),
               t->sections.size() * sizeof(Elf64_Shdr));
    std::memcpy(out.data(), &header, sizeof header);
    return out;
}

}  // namespace pf::app
