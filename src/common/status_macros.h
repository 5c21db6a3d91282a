// Small helpers for absl::Status / absl::StatusOr at module boundaries.
//
// Debian's abseil (20220623) ships without status macros, so the two this project needs
// live here. Both evaluate `expr` exactly once.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define HB_STATUS_CONCAT_INNER(a, b) a##b
#define HB_STATUS_CONCAT(a, b) HB_STATUS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define HB_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::absl::Status hb_status_ = (expr);      \
    if (!hb_status_.ok()) return hb_status_; \
  } while (false)

// `lhs` = value of the StatusOr `expr`, or returns its status when it holds an error.
#define HB_ASSIGN_OR_RETURN(lhs, expr) \
  HB_ASSIGN_OR_RETURN_IMPL(HB_STATUS_CONCAT(hb_statusor_, __LINE__), lhs, expr)
#define HB_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
