#include "capability/phase.h"

namespace hb::capability {
namespace {

constexpr struct {
  Phase phase;
  const char* name;
} kPhases[] = {
    {Phase::kPending, "Pending"},         {Phase::kHealthy, "Healthy"},
    {Phase::kUnhealthy, "Unhealthy"},     {Phase::kDown, "Down"},
    {Phase::kFailing, "Failing"},         {Phase::kLeaseLost, "LeaseLost"},
    {Phase::kPaused, "Paused"},           {Phase::kInvalid, "Invalid"},
    {Phase::kConflict, "Conflict"},       {Phase::kNotApplicable, "NotApplicable"},
    {Phase::kTerminating, "Terminating"},
};

}  // namespace

const char* PhaseName(Phase phase) {
  for (const auto& p : kPhases) {
    if (p.phase == phase) return p.name;
  }
  return "Pending";
}

std::optional<Phase> ParsePhase(absl::string_view name) {
  for (const auto& p : kPhases) {
    if (name == p.name) return p.phase;
  }
  return std::nullopt;
}

bool IsRunning(Phase phase) {
  return phase == Phase::kPending || phase == Phase::kHealthy || phase == Phase::kUnhealthy ||
         phase == Phase::kDown || phase == Phase::kFailing || phase == Phase::kLeaseLost;
}

bool IsWarning(Phase phase) {
  return phase == Phase::kUnhealthy || phase == Phase::kDown || phase == Phase::kFailing ||
         phase == Phase::kLeaseLost || phase == Phase::kInvalid || phase == Phase::kConflict;
}

}  // namespace hb::capability
