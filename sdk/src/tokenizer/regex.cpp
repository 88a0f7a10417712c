#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace mneme {
namespace {

// Unicode White_Space, spelled for use inside a character class.
constexpr std::string_view white_space_set =
    "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";
// Oniguruma's Unicode \w: Letter | Mark | Decimal_Number | Connector_Punctuation.
constexpr std::string_view word_set = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
constexpr std::string_view hex_set = "0-9a-fA-F";

// "[set]" or "[^set]", built with append: GCC 12 gives a false -Wrestrict warning for the
// equivalent operator+ expression.
std::string bracketed(std::string_view set, bool negated) {
    std::string out(negated ? "[^" : "[");
    out.append(set);
    out += ']';
    return out;
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Per-thread match resources: match data and the JIT stack must not be shared between threads.
struct match_scratch {
    pcre2_match_data* data = nullptr;
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* jit_stack = nullptr;

    match_scratch() {
        // One pair is enough: only the whole match is used (pcre2_match returns 0, not an error,
        // when a pattern has more groups than the vector holds).
        data = pcre2_match_data_create(1, nullptr);
        context = pcre2_match_context_create(nullptr);
        // Long runs (megabytes of one script or of whitespace) can need more than the default 32 KiB.
        jit_stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
        if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
        if (!data || !context) throw std::bad_alloc();
    }
    ~match_scratch() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(data);
    }
    match_scratch(const match_scratch&) = delete;
    match_scratch& operator=(const match_scratch&) = delete;
};

match_scratch& scratch() {
    thread_local match_scratch s;
    return s;
}

}  // namespace

std::string translate_oniguruma_pattern(std::string_view p) {
    std::string out;
    out.reserve(p.size() + 64);
    int class_depth = 0;
    for (std::size_t i = 0; i < p.size(); ++i) {
        const char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size()) throw regex_error("pattern ends with a lone backslash");
            const char e = p[++i];
            const bool in_class = class_depth > 0;
            switch (e) {
                case 's':
                    out += in_class ? std::string(white_space_set) : bracketed(white_space_set, false);
                    break;
                case 'S':
                    if (in_class) {
                        // A negated set cannot be spliced into a class; PCRE2's own \S differs from
                        // Oniguruma's only at U+180E.
                        out += "\\S";
                    } else {
                        out += bracketed(white_space_set, true);
                    }
                    break;
                case 'w':
                    out += in_class ? std::string(word_set) : bracketed(word_set, false);
                    break;
                case 'W':
                    if (in_class) throw regex_error("\\W inside a character class is not supported");
                    out += bracketed(word_set, true);
                    break;
                case 'h':
                    out += in_class ? std::string(hex_set) : bracketed(hex_set, false);
                    break;
                case 'H':
                    if (in_class) throw regex_error("\\H inside a character class is not supported");
                    out += bracketed(hex_set, true);
                    break;
                case 'u':
                    if (i + 4 < p.size() && is_hex(p[i + 1]) && is_hex(p[i + 2]) && is_hex(p[i + 3]) &&
                        is_hex(p[i + 4])) {
                        out += "\\x{";
                        out.append(p.substr(i + 1, 4));
                        out += "}";
                        i += 4;
                    } else {
                        throw regex_error("\\u must be followed by four hexadecimal digits");
                    }
                    break;
                default:
                    out += '\\';
                    out += e;
                    break;
            }
            continue;
        }
        if (class_depth > 0) {
            if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
                // POSIX bracket expression such as [:alpha:], copied whole.
                const std::size_t close = p.find(":]", i + 2);
                if (close == std::string_view::npos) throw regex_error("unterminated POSIX bracket expression");
                out.append(p.substr(i, close + 2 - i));
                i = close + 1;
                continue;
            }
            if (c == '[') {
                throw regex_error("nested character classes are not supported");
            }
            if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
                throw regex_error("character class intersection (&&) is not supported");
            }
            if (c == ']') {
                --class_depth;
            }
            out += c;
            continue;
        }
        if (c == '[') {
            ++class_depth;
            out += c;
            // A ']' right after '[' or '[^' is a literal in both syntaxes.
            if (i + 1 < p.size() && p[i + 1] == '^') {
                out += '^';
                ++i;
            }
            if (i + 1 < p.size() && p[i + 1] == ']') {
                out += "\\]";
                ++i;
            }
            continue;
        }
        out += c;
    }
    if (class_depth != 0) throw regex_error("unterminated character class");
    return out;
}

std::string escape_literal(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 2);
    for (char c : text) {
        if (std::string_view("\\^$.|?*+()[]{}-#&~ \t\n\r\f\v").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

struct regex::compiled {
    pcre2_code* code = nullptr;
    ~compiled() { pcre2_code_free(code); }
};

regex::regex(const std::string& pattern) : code_(std::make_unique<compiled>()), pattern_(pattern) {
    pcre2_compile_context* context = pcre2_compile_context_create(nullptr);
    if (!context) throw std::bad_alloc();
    // Ruby syntax: '.' stops at "\n" only, and ^ and $ are line anchors.
    pcre2_set_newline(context, PCRE2_NEWLINE_LF);
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &error_code, &error_offset, context);
    pcre2_compile_context_free(context);
    if (!code_->code) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(error_code, message, sizeof message);
        throw regex_error(cat("PCRE2 cannot compile /", pattern, "/ at offset ", error_offset, ": ",
                              reinterpret_cast<const char*>(message)));
    }
    // Without JIT (unsupported CPU, or JIT disabled in the build) the interpreter is used.
    pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

regex::~regex() = default;
regex::regex(regex&&) noexcept = default;
regex& regex::operator=(regex&&) noexcept = default;

bool regex::search(std::string_view subject, std::size_t start, std::size_t& match_begin,
                   std::size_t& match_end) const {
    match_scratch& s = scratch();
    const int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                               PCRE2_NO_UTF_CHECK, s.data, s.context);
    if (rc == PCRE2_ERROR_NOMATCH) return false;
    if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof message);
        fail(MNEME_ERROR_INTERNAL, "tokenizer regex /", pattern_, "/ failed on a ", subject.size(),
             "-byte piece: ", reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(s.data);
    match_begin = ovector[0];
    match_end = ovector[1];
    // \K can put the start after the end; treat such a match as empty at its end.
    if (match_begin > match_end) match_begin = match_end;
    return true;
}

std::size_t regex::next_char(std::string_view s, std::size_t pos) {
    if (pos >= s.size()) return s.size() + 1;
    ++pos;
    while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
    return pos;
}

}  // namespace mneme
