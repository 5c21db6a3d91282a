#include "kubefake/selectors.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kube/errors.h"

namespace hb::kubefake {
namespace {

absl::Status BadRequest(absl::string_view message) {
  return kube::MakeApiError({400, "BadRequest", std::string(message), absl::ZeroDuration()});
}

absl::Status Unparsable(absl::string_view detail) {
  return BadRequest(absl::StrCat("unable to parse requirement: ", detail));
}

bool IsOperatorChar(char c) { return c == '!' || c == '=' || c == '(' || c == ')' || c == ','; }

// Splits a label selector into keys/values and the operators "!=", "==", "=", "(", ")",
// ",", "!".
std::vector<std::string> Tokens(absl::string_view text) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if ((c == '!' || c == '=') && i + 1 < text.size() && text[i + 1] == '=') {
      tokens.emplace_back(text.substr(i, 2));
      i += 2;
    } else if (IsOperatorChar(c)) {
      tokens.emplace_back(1, c);
      ++i;
    } else {
      size_t start = i;
      while (i < text.size() && !IsOperatorChar(text[i]) &&
             !absl::ascii_isspace(static_cast<unsigned char>(text[i]))) {
        ++i;
      }
      tokens.emplace_back(text.substr(start, i - start));
    }
  }
  return tokens;
}

bool ValidLabelKey(absl::string_view key) {
  if (key.empty() || key.size() > 253 + 1 + 63) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

// Parses "(a, b)" starting at tokens[*i] == "("; leaves *i after ")".
absl::Status ParseValueSet(const std::vector<std::string>& tokens, size_t* i,
                           std::vector<std::string>* values) {
  if (*i >= tokens.size() || tokens[*i] != "(") return Unparsable("found '', expected: '('");
  for (++*i; *i < tokens.size() && tokens[*i] != ")"; ++*i) {
    if (tokens[*i] != ",") values->push_back(tokens[*i]);
  }
  if (*i >= tokens.size()) return Unparsable("found '', expected: ')'");
  ++*i;
  return absl::OkStatus();
}

std::string GetMetadataString(const nlohmann::json& object, const char* key) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return "";
  auto it = metadata->find(key);
  return it != metadata->end() && it->is_string() ? it->get<std::string>() : "";
}

bool LabelsMatch(const std::vector<LabelRequirement>& requirements, const nlohmann::json& object) {
  static const nlohmann::json kNoLabels = nlohmann::json::object();
  const nlohmann::json* labels = &kNoLabels;
  auto metadata = object.find("metadata");
  if (metadata != object.end() && metadata->is_object()) {
    auto it = metadata->find("labels");
    if (it != metadata->end() && it->is_object()) labels = &*it;
  }
  for (const auto& r : requirements) {
    auto it = labels->find(r.key);
    bool has = it != labels->end() && it->is_string();
    std::string value = has ? it->get<std::string>() : "";
    bool listed = std::find(r.values.begin(), r.values.end(), value) != r.values.end();
    bool ok = true;
    switch (r.op) {
      case SelectorOp::kEquals:
      case SelectorOp::kIn:
        ok = has && listed;
        break;
      case SelectorOp::kNotEquals:
      case SelectorOp::kNotIn:
        ok = !has || !listed;
        break;
      case SelectorOp::kExists:
        ok = has;
        break;
      case SelectorOp::kNotExists:
        ok = !has;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<LabelRequirement>> ParseLabelSelector(absl::string_view text) {
  std::vector<LabelRequirement> out;
  std::vector<std::string> tokens = Tokens(text);
  size_t i = 0;
  while (i < tokens.size()) {
    LabelRequirement r;
    if (tokens[i] == "!") {
      if (i + 1 >= tokens.size()) return Unparsable("found '', expected: identifier");
      r.key = tokens[i + 1];
      r.op = SelectorOp::kNotExists;
      i += 2;
    } else {
      r.key = tokens[i];
      std::string op = i + 1 < tokens.size() ? tokens[i + 1] : ",";
      if (op == ",") {
        r.op = SelectorOp::kExists;
        i += 1;
      } else if (op == "=" || op == "==" || op == "!=") {
        r.op = op == "!=" ? SelectorOp::kNotEquals : SelectorOp::kEquals;
        bool has_value = i + 2 < tokens.size() && tokens[i + 2] != ",";
        r.values.push_back(has_value ? tokens[i + 2] : "");
        i += has_value ? 3 : 2;
      } else if (op == "in" || op == "notin") {
        r.op = op == "in" ? SelectorOp::kIn : SelectorOp::kNotIn;
        i += 2;
        absl::Status parsed = ParseValueSet(tokens, &i, &r.values);
        if (!parsed.ok()) return parsed;
      } else {
        return Unparsable(absl::StrCat("found '", op, "', expected: in, notin, =, ==, !="));
      }
    }
    if (!ValidLabelKey(r.key)) return Unparsable(absl::StrCat("invalid label key \"", r.key, "\""));
    out.push_back(std::move(r));
    if (i < tokens.size()) {
      if (tokens[i] != ",")
        return Unparsable(absl::StrCat("found '", tokens[i], "', expected: ','"));
      ++i;
    }
  }
  return out;
}

absl::StatusOr<std::vector<FieldRequirement>> ParseFieldSelector(absl::string_view text) {
  std::vector<FieldRequirement> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    part = absl::StripAsciiWhitespace(part);
    size_t pos = part.find_first_of("!=");
    if (pos == absl::string_view::npos || pos == 0) {
      return BadRequest(
          absl::StrCat("invalid selector: '", text, "'; can't understand '", part, "'"));
    }
    FieldRequirement r;
    r.field = std::string(absl::StripAsciiWhitespace(part.substr(0, pos)));
    absl::string_view rest = part.substr(pos);
    size_t op_len = 1;
    if (absl::StartsWith(rest, "!=")) {
      r.equals = false;
      op_len = 2;
    } else if (absl::StartsWith(rest, "==")) {
      op_len = 2;
    } else if (rest[0] == '!') {
      return BadRequest(absl::StrCat("invalid selector: '", text, "'"));
    }
    r.value = std::string(absl::StripAsciiWhitespace(rest.substr(op_len)));
    if (r.field != "metadata.name" && r.field != "metadata.namespace") {
      return BadRequest(absl::StrCat("field label not supported: ", r.field));
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<ObjectSelector> ObjectSelector::Parse(absl::string_view label_selector,
                                                     absl::string_view field_selector) {
  ObjectSelector selector;
  auto labels = ParseLabelSelector(label_selector);
  if (!labels.ok()) return labels.status();
  auto fields = ParseFieldSelector(field_selector);
  if (!fields.ok()) return fields.status();
  selector.labels_ = std::move(labels).value();
  selector.fields_ = std::move(fields).value();
  return selector;
}

bool ObjectSelector::Matches(const nlohmann::json& object) const {
  if (!object.is_object()) return false;
  if (!LabelsMatch(labels_, object)) return false;
  for (const auto& f : fields_) {
    const char* key = f.field == "metadata.name" ? "name" : "namespace";
    if ((GetMetadataString(object, key) == f.value) != f.equals) return false;
  }
  return true;
}

}  // namespace hb::kubefake
