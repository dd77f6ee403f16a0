// Package ngxre implements OpenResty's ngx.re API (match, find, gmatch,
// sub, gsub, and split from `require "ngx.re"`) for gopher-lua, with PCRE
// semantics on top of Go's regexp and, where RE2 falls short, regexp2.
//
// # How a call flows
//
// A Lua call such as ngx.re.find(line, [[\S+]], "jo", ctx) goes through
// four steps:
//
//  1. Options. The options string is parsed into flags. "j" and "o" are
//     hints and do not change the flags, so every spelling of a pattern's
//     semantics shares one compiled form. Unknown letters raise
//     `unknown flag "<c>" (flags "<opts>")` exactly as lua-resty-core does.
//  2. Cache. (pattern, flags) is looked up in the server-wide Cache: an
//     immutable map behind an atomic pointer, so a hit takes no lock and
//     allocates nothing. A miss compiles (step 3) and inserts while there is
//     room; once full, patterns are compiled per call and never evicted,
//     like OpenResty's lua_regex_cache_max_entries. Patterns without "o" are
//     cached too (compiling is deterministic, so this cannot be observed)
//     but may fill only half the cache.
//  3. Compile. The PCRE pattern is translated by this package's own parser
//     (translate.go) into the Go dialect: extended mode ("x") comments and
//     whitespace are stripped, \s becomes a class that includes \v, \h \v
//     \R \N and POSIX classes are expanded, \Q...\E is quoted, named groups
//     become plain groups (names are kept aside, so both engines number
//     groups as PCRE does), and (?U), (?n), (?J) are applied by the
//     translator. If RE2 cannot express the pattern (backreferences,
//     lookaround, atomic groups, possessive quantifiers, conditionals, \G,
//     repeat counts over 1000), the pattern is translated again for
//     regexp2 instead. A pattern shaped like X+, X*, X or a literal (the
//     separators and tokens of line protocols: " +", "\\s+", "(\\S+)", ",")
//     also gets a byte-scan matcher that skips both engines.
//  4. Exec. Each call views the subject once (subject.go). Without "u" PCRE
//     treats each byte as a character, so a subject with bytes above 0x7F
//     is re-encoded as Latin-1 for Go's regexp and as a byte-per-rune slice
//     for regexp2; offsets are mapped back to bytes. With "u" the subject
//     is checked as PCRE2 does and an invalid one yields
//     "pcre_exec() failed: <PCRE2 code>". Go's regexp cannot start a search
//     at an offset while seeing the text before it, so a pattern that looks
//     left (^, \A, \b, \B) is run with one byte of left context through a
//     variant that skips it; other patterns run on the suffix directly.
//
// Results follow lua-resty-core's Lua code line by line: ctx.pos is set to
// just after a match (and left alone on failure), unmatched groups are
// false, an empty match advances the next search by one byte (so
// gsub("abc", "", "-") is "-a-b-c-", 4), sub/gsub templates accept $0, $1,
// ${1} and $$ and reject anything else with "failed to compile the
// replacement template", and split keeps a leading empty field, drops
// trailing ones unless max is positive, and inserts the first capture group
// after each field.
//
// # Known differences from PCRE
//
// Case-insensitive matching without "u" also folds Latin-1 letters (é/É),
// where PCRE's C-locale tables fold ASCII only. A multiline ^ matches after
// a final newline. The "d" option (DFA) gives leftmost-longest matches on
// the Go path but ordinary PCRE matching when the pattern needs regexp2.
// Recursion, subroutine calls, \K, branch reset groups and backtracking
// verbs are rejected at compile time. A regexp2 match that runs longer than
// a second stops with "pcre_exec() failed: -47", standing in for PCRE's
// match limit.
package ngxre
