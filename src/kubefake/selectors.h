// ObjectSelector: label and field selectors parsed and applied the way the API server does,
// for FakeKubeClient's List and Watch.
//
// Label selectors (k8s.io/apimachinery/pkg/labels): comma-separated requirements
//   key=value, key==value, key!=value, key in (a,b), key notin (a,b), key, !key
// ("!=" and "notin" also match objects without the label). Field selectors: comma-separated
// metadata.name / metadata.namespace with =, == or !=; any other field is rejected with
// 400 "field label not supported", as the real server does for most resources.
//
// Parse errors are 400 BadRequest statuses (kube::MakeApiError). Immutable after Parse();
// safe to use from several threads.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace hb::kubefake {

enum class SelectorOp { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };

struct LabelRequirement {
  std::string key;
  SelectorOp op = SelectorOp::kEquals;
  std::vector<std::string> values;  // one for kEquals / kNotEquals, none for kExists
};

struct FieldRequirement {
  std::string field;  // "metadata.name" or "metadata.namespace"
  bool equals = true;
  std::string value;
};

class ObjectSelector {
 public:
  // Matches everything.
  ObjectSelector() = default;
  static absl::StatusOr<ObjectSelector> Parse(absl::string_view label_selector,
                                              absl::string_view field_selector);

  // False for a null object.
  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return labels_.empty() && fields_.empty(); }

 private:
  std::vector<LabelRequirement> labels_;
  std::vector<FieldRequirement> fields_;
};

absl::StatusOr<std::vector<LabelRequirement>> ParseLabelSelector(absl::string_view text);
absl::StatusOr<std::vector<FieldRequirement>> ParseFieldSelector(absl::string_view text);

}  // namespace hb::kubefake
