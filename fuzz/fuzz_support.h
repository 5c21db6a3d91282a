// What the fuzz targets share: turning the input into text, splitting it into documents,
// a deterministic pseudo-random stream seeded by the input, and the way a broken property
// is reported.
//
// A property a target checks and finds broken is a finding like a sanitizer report: Fail()
// prints what broke and aborts, so libFuzzer saves the input as a crash. Everything here is
// deterministic (the same input always behaves the same) so that a saved input reproduces.
// Single-threaded, like libFuzzer's calls into a target.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace hb::fuzz {

inline absl::string_view AsText(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// Reports a broken property and aborts (libFuzzer records the input as a crash).
[[noreturn]] inline void Fail(absl::string_view what, absl::string_view detail = {}) {
  std::fprintf(stderr, "FUZZ PROPERTY BROKEN: %.*s%s%.*s\n", static_cast<int>(what.size()),
               what.data(), detail.empty() ? "" : ": ", static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// The input cut at lines that are exactly "---" (YAML's document separator), at most
// `max_documents` pieces; the last piece keeps the rest.
inline std::vector<std::string> SplitDocuments(absl::string_view text, size_t max_documents) {
  std::vector<std::string> documents;
  constexpr absl::string_view kSeparator = "\n---\n";
  while (documents.size() + 1 < max_documents) {
    size_t at = text.find(kSeparator);
    if (at == absl::string_view::npos) break;
    documents.emplace_back(text.substr(0, at + 1));
    text.remove_prefix(at + kSeparator.size());
  }
  documents.emplace_back(text);
  return documents;
}

// splitmix64, seeded with the FNV-1a hash of the input: "random" choices that depend only
// on the input.
class InputRandom {
 public:
  explicit InputRandom(absl::string_view input) {
    uint64_t hash = 14695981039346656037ull;
    for (char c : input) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ull;
    }
    state_ = hash;
  }

  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [low, high].
  size_t Between(size_t low, size_t high) { return low + Next() % (high - low + 1); }

 private:
  uint64_t state_ = 0;
};

}  // namespace hb::fuzz
