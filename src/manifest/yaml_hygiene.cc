#include "manifest/yaml_hygiene.h"

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "manifest/bounds.h"

namespace hb::manifest::internal {
namespace {

// The length of the UTF-8 sequence starting at text[i], or 0 when it is not valid.
size_t Utf8Length(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  if (n == 2 && c < 0xC2) return 0;  // overlong
  if (n == 3 && c == 0xE0 && byte(i + 1) < 0xA0) return 0;
  if (n == 3 && c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogates
  if (n == 4 &&
      (c > 0xF4 || (c == 0xF0 && byte(i + 1) < 0x90) || (c == 0xF4 && byte(i + 1) >= 0x90))) {
    return 0;
  }
  return n;
}

struct Walk {
  absl::string_view source;
  int nodes = 0;

  absl::Status Visit(const YAML::Node& node, const std::string& path, int depth) {
    const std::string& where = path.empty() ? std::string("(document)") : path;
    if (++nodes > kMaxYamlNodes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", where, ": more than ", kMaxYamlNodes, " YAML nodes (aliases included)"));
    }
    if (depth > kMaxYamlDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", where, ": nested deeper than ", kMaxYamlDepth, " levels"));
    }
    if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        absl::Status st = Visit(node[i], absl::StrCat(path, "[", i, "]"), depth + 1);
        if (!st.ok()) return st;
      }
    } else if (node.IsMap()) {
      std::set<std::string> keys;
      for (auto it = node.begin(); it != node.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string("(complex key)");
        std::string child = path.empty() ? key : absl::StrCat(path, ".", key);
        if (it->first.IsScalar() && !keys.insert(key).second) {
          return absl::InvalidArgumentError(absl::StrCat(source, ": ", child, ": duplicate key ",
                                                         QuoteForMessage(key),
                                                         " (a mapping may give each key once)"));
        }
        absl::Status st = Visit(it->second, child, depth + 1);
        if (!st.ok()) return st;
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::Status CheckManifestText(absl::string_view text, absl::string_view source) {
  if (text.size() > kMaxManifestBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": larger than ", kMaxManifestBytes, " bytes (", text.size(), ")"));
  }
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\0') {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": not a text file (a NUL byte at offset ", i, ")"));
    }
    size_t n = Utf8Length(text, i);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": not UTF-8 text (a bad byte at offset ", i, ")"));
    }
    i += n;
  }
  return absl::OkStatus();
}

absl::Status CheckYamlTree(const YAML::Node& doc, absl::string_view source) {
  Walk walk{source};
  return walk.Visit(doc, "", 0);
}

}  // namespace hb::manifest::internal
