#include "common/time_format.h"

#include "absl/strings/str_cat.h"

namespace hb {

std::string FormatRfc3339(absl::Time t) {
  std::string out;
  AppendRfc3339(t, out);
  return out;
}

namespace {

// `width` decimal digits of `value`, zero-padded, at `p`.
void PutDigits(char* p, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

void AppendRfc3339(absl::Time t, std::string& out) {
  constexpr int64_t kYear10000 = 253402300800;  // 10000-01-01T00:00:00Z, Unix seconds
  const int64_t us = absl::ToUnixMicros(t);     // floor, as %E6S truncates
  if (us < 0 || us / 1000000 >= kYear10000) {
    absl::StrAppend(&out, absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone()));
    return;
  }
  const int64_t secs = us / 1000000;
  const int64_t second_of_day = secs % 86400;
  // Days since 1970-01-01 to a proleptic Gregorian date, counted in 400-year eras from
  // 0000-03-01 so that the leap day ends each year.
  const int64_t days = secs / 86400 + 719468;
  const int64_t era = days / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_index = (5 * day_of_year + 2) / 153;  // 0 = March
  const int64_t day = day_of_year - (153 * month_index + 2) / 5 + 1;
  const int64_t month = month_index < 10 ? month_index + 3 : month_index - 9;
  const int64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  char buf[] = "0000-00-00T00:00:00.000000Z";
  PutDigits(buf, year, 4);
  PutDigits(buf + 5, month, 2);
  PutDigits(buf + 8, day, 2);
  PutDigits(buf + 11, second_of_day / 3600, 2);
  PutDigits(buf + 14, second_of_day / 60 % 60, 2);
  PutDigits(buf + 17, second_of_day % 60, 2);
  PutDigits(buf + 20, us % 1000000, 6);
  out.append(buf, sizeof(buf) - 1);
}

absl::StatusOr<absl::Time> ParseRfc3339(absl::string_view text) {
  absl::Time t;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an RFC 3339 timestamp: \"", text, "\": ", error));
  }
  return t;
}

std::string HumanDuration(absl::Duration d) {
  int64_t s = absl::ToInt64Seconds(d);
  if (s < 0) s = 0;
  if (s < 120) return absl::StrCat(s, "s");
  int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? absl::StrCat(m, "m") : absl::StrCat(m, "m", s % 60, "s");
  if (m < 180) return absl::StrCat(m, "m");
  int64_t h = m / 60;
  if (h < 48) return m % 60 == 0 ? absl::StrCat(h, "h") : absl::StrCat(h, "h", m % 60, "m");
  int64_t days = h / 24;
  if (days < 8) return h % 24 == 0 ? absl::StrCat(days, "d") : absl::StrCat(days, "d", h % 24, "h");
  return absl::StrCat(days, "d");
}

}  // namespace hb
