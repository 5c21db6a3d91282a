// Kubeconfig files: the subset of client-go's loader that an operator needs (clusters,
// users with certificates or tokens, contexts; several files merged).
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "kube/config.h"
#include "kube/files.h"
#include "yaml-cpp/yaml.h"

namespace hb::kube {
namespace {

struct KubeconfigFile {
  std::string path;
  std::string dir;  // relative paths inside the file are resolved against it
  YAML::Node root;
};

// One entry of "clusters", "users" or "contexts": its body and the file it came from.
struct Entry {
  const KubeconfigFile* file = nullptr;
  YAML::Node body;
  std::string where;  // e.g. users[name="admin"].user
};

// map[key], or a null node when `map` is not a mapping or lacks the key. (yaml-cpp's node
// for a missing key throws on every use but IsDefined().)
YAML::Node Child(const YAML::Node& map, const char* key) {
  if (!map.IsDefined() || !map.IsMap()) return YAML::Node();
  const YAML::Node child = map[key];
  return child.IsDefined() ? child : YAML::Node();
}

std::string ScalarOrEmpty(const YAML::Node& node) { return node.IsScalar() ? node.Scalar() : ""; }

// `path` names the text in messages; relative paths inside it are resolved against `dir`.
absl::StatusOr<KubeconfigFile> ParseText(const std::string& text, std::string path,
                                         std::string dir) {
  KubeconfigFile file{std::move(path), std::move(dir), {}};
  try {
    file.root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", file.path, ": not valid YAML: ", e.what()));
  }
  if (!file.root.IsNull() && !file.root.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", file.path, ": not a mapping"));
  }
  return file;
}

absl::StatusOr<KubeconfigFile> ParseFile(const std::string& path) {
  HB_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, "kubeconfig"));
  return ParseText(text, path, DirName(path));
}

// Reads the fields of one mapping; every error names the file and the field.
class Fields {
 public:
  Fields(const KubeconfigFile& file, YAML::Node map, std::string where)
      : file_(file), map_(std::move(map)), where_(std::move(where)) {}

  bool Has(const char* key) const { return !Child(map_, key).IsNull(); }

  absl::Status Error(const char* key, absl::string_view problem) const {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", file_.path, ": ", where_, ".", key, " ", problem));
  }

  // "" when absent.
  absl::StatusOr<std::string> String(const char* key) const {
    if (!Has(key)) return std::string();
    const YAML::Node node = Child(map_, key);
    if (!node.IsScalar()) return Error(key, "must be a string");
    return node.Scalar();
  }

  absl::StatusOr<bool> Bool(const char* key) const {
    if (!Has(key)) return false;
    try {
      return Child(map_, key).as<bool>();
    } catch (const YAML::Exception&) {
      return Error(key, "must be true or false");
    }
  }

  // The contents of `data_key` (base64) or else of the file named by `file_key`; "" when
  // neither is set.
  absl::StatusOr<std::string> DataOrFile(const char* file_key, const char* data_key) const {
    HB_ASSIGN_OR_RETURN(std::string data, String(data_key));
    if (!data.empty()) {
      std::string decoded;
      if (!absl::Base64Unescape(data, &decoded)) return Error(data_key, "is not valid base64");
      return decoded;
    }
    HB_ASSIGN_OR_RETURN(std::string path, Path(file_key));
    if (path.empty()) return std::string();
    auto contents = ReadFileToString(path, absl::StrCat(where_, ".", file_key));
    if (!contents.ok()) {
      return absl::Status(contents.status().code(), absl::StrCat("kubeconfig ", file_.path, ": ",
                                                                 contents.status().message()));
    }
    return contents;
  }

  // A path field resolved against the kubeconfig's directory; "" when absent.
  absl::StatusOr<std::string> Path(const char* key) const {
    HB_ASSIGN_OR_RETURN(std::string path, String(key));
    return ResolvePath(file_.dir, path);
  }

 private:
  const KubeconfigFile& file_;
  YAML::Node map_;
  std::string where_;
};

// The first entry called `name` in list `list_key` across the files (first file wins).
std::optional<Entry> FindEntry(const std::vector<KubeconfigFile>& files, const char* list_key,
                               const char* body_key, const std::string& name) {
  for (const auto& file : files) {
    const YAML::Node list = Child(file.root, list_key);
    if (!list.IsSequence()) continue;
    for (const auto& item : list) {
      if (ScalarOrEmpty(Child(item, "name")) != name) continue;
      return Entry{&file, Child(item, body_key),
                   absl::StrCat(list_key, "[name=\"", name, "\"].", body_key)};
    }
  }
  return std::nullopt;
}

std::vector<std::string> EntryNames(const std::vector<KubeconfigFile>& files,
                                    const char* list_key) {
  std::vector<std::string> names;
  for (const auto& file : files) {
    const YAML::Node list = Child(file.root, list_key);
    if (!list.IsSequence()) continue;
    for (const auto& item : list) {
      std::string entry_name = ScalarOrEmpty(Child(item, "name"));
      if (!entry_name.empty()) names.push_back(entry_name);
    }
  }
  return names;
}

std::string FileList(const std::vector<KubeconfigFile>& files) {
  std::vector<std::string> paths;
  for (const auto& f : files) paths.push_back(f.path);
  return absl::StrJoin(paths, ":");
}

absl::Status RejectUnsupported(const Fields& fields, std::initializer_list<const char*> keys) {
  for (const char* key : keys) {
    if (fields.Has(key)) return fields.Error(key, "is not supported by heartbeat-operator");
  }
  return absl::OkStatus();
}

absl::Status ReadCluster(const Entry& entry, KubeConfig& config) {
  Fields f(*entry.file, entry.body, entry.where);
  HB_RETURN_IF_ERROR(RejectUnsupported(f, {"tls-server-name", "proxy-url"}));
  HB_ASSIGN_OR_RETURN(config.server, f.String("server"));
  if (config.server.empty()) return f.Error("server", "is missing");
  if (!absl::StartsWith(config.server, "https://") && !absl::StartsWith(config.server, "http://")) {
    return f.Error("server", "must start with https:// or http://");
  }
  HB_ASSIGN_OR_RETURN(config.ca_pem,
                      f.DataOrFile("certificate-authority", "certificate-authority-data"));
  HB_ASSIGN_OR_RETURN(config.insecure_skip_tls_verify, f.Bool("insecure-skip-tls-verify"));
  if (config.insecure_skip_tls_verify && !config.ca_pem.empty()) {
    return f.Error("insecure-skip-tls-verify", "cannot be combined with a certificate authority");
  }
  return absl::OkStatus();
}

absl::Status ReadUser(const Entry& entry, KubeConfig& config) {
  Fields f(*entry.file, entry.body, entry.where);
  HB_RETURN_IF_ERROR(RejectUnsupported(
      f, {"exec", "auth-provider", "username", "password", "as", "as-groups", "as-user-extra"}));
  HB_ASSIGN_OR_RETURN(config.client_cert_pem,
                      f.DataOrFile("client-certificate", "client-certificate-data"));
  HB_ASSIGN_OR_RETURN(config.client_key_pem, f.DataOrFile("client-key", "client-key-data"));
  if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
    return f.Error(config.client_cert_pem.empty() ? "client-certificate" : "client-key",
                   "is missing (a client certificate needs its key and the key its certificate)");
  }
  HB_ASSIGN_OR_RETURN(config.token, f.String("token"));
  HB_ASSIGN_OR_RETURN(config.token_file, f.Path("tokenFile"));
  if (!config.token_file.empty()) {
    auto token = ReadFileToString(config.token_file, absl::StrCat(entry.where, ".tokenFile"));
    if (!token.ok()) {
      return absl::Status(token.status().code(), absl::StrCat("kubeconfig ", entry.file->path, ": ",
                                                              token.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KubeConfig> Resolve(const std::vector<KubeconfigFile>& files, std::string context) {
  const std::string all = FileList(files);
  if (context.empty()) {
    for (const auto& file : files) {
      context = ScalarOrEmpty(Child(file.root, "current-context"));
      if (!context.empty()) break;
    }
    if (context.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kubeconfig ", all, ": no current-context is set; choose a context"));
    }
  }
  auto ctx = FindEntry(files, "contexts", "context", context);
  if (!ctx.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "kubeconfig ", all, ": context \"", context,
        "\" not found (contexts: ", absl::StrJoin(EntryNames(files, "contexts"), ", "), ")"));
  }
  Fields cf(*ctx->file, ctx->body, ctx->where);
  HB_ASSIGN_OR_RETURN(std::string cluster_name, cf.String("cluster"));
  HB_ASSIGN_OR_RETURN(std::string user_name, cf.String("user"));
  HB_ASSIGN_OR_RETURN(std::string ns, cf.String("namespace"));
  if (cluster_name.empty()) return cf.Error("cluster", "is missing");

  KubeConfig config;
  auto cluster = FindEntry(files, "clusters", "cluster", cluster_name);
  if (!cluster.has_value()) {
    return absl::NotFoundError(absl::StrCat("kubeconfig ", all, ": cluster \"", cluster_name,
                                            "\" of context \"", context, "\" not found"));
  }
  HB_RETURN_IF_ERROR(ReadCluster(*cluster, config));
  if (!user_name.empty()) {
    auto user = FindEntry(files, "users", "user", user_name);
    if (!user.has_value()) {
      return absl::NotFoundError(absl::StrCat("kubeconfig ", all, ": user \"", user_name,
                                              "\" of context \"", context, "\" not found"));
    }
    HB_RETURN_IF_ERROR(ReadUser(*user, config));
  }
  config.default_namespace = ns.empty() ? "default" : ns;
  config.origin = absl::StrCat("kubeconfig ", all, " (context ", context, ")");
  return config;
}

// Resolve() with yaml-cpp's exceptions turned into a status.
absl::StatusOr<KubeConfig> ResolveFiles(const std::vector<KubeconfigFile>& files,
                                        absl::string_view context) {
  try {
    return Resolve(files, std::string(context));
  } catch (const YAML::Exception& e) {  // a field of an unexpected shape
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", FileList(files), ": unexpected structure: ", e.what()));
  }
}

}  // namespace

absl::StatusOr<KubeConfig> LoadKubeconfig(const std::vector<std::string>& paths,
                                          absl::string_view context) {
  if (paths.empty()) return absl::InvalidArgumentError("no kubeconfig file given");
  std::vector<KubeconfigFile> files;
  for (const auto& path : paths) {
    HB_ASSIGN_OR_RETURN(KubeconfigFile file, ParseFile(path));
    files.push_back(std::move(file));
  }
  return ResolveFiles(files, context);
}

absl::StatusOr<KubeConfig> ParseKubeconfig(absl::string_view text, absl::string_view base_dir,
                                           absl::string_view context) {
  std::vector<KubeconfigFile> files;
  HB_ASSIGN_OR_RETURN(KubeconfigFile file,
                      ParseText(std::string(text), "(text)", std::string(base_dir)));
  files.push_back(std::move(file));
  return ResolveFiles(files, context);
}

absl::StatusOr<KubeConfig> LoadKubeconfig(const std::string& path, absl::string_view context) {
  return LoadKubeconfig(std::vector<std::string>{path}, context);
}

}  // namespace hb::kube
