// Kubernetes manifests (YAML or JSON files, directories, strings) read into generic objects.
//
// Control thread only (allocates; never called from workers). The entry points never throw:
// they return the objects or an Error whose text is `file:line: what is wrong`. An Object keeps
// the line of every field of its YAML document so that convert.hpp can say which line a bad
// field is on. Callers: the daemon (manifest files), enidpctl, the perf scenarios, the API
// watcher and the gRPC edge (object_from_json), and tests.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace enidp::objects {

// What went wrong, and where. to_string() gives `file:line: Kind ns/name: field.path: message`,
// leaving out what is unknown (no line for an object from the watcher, no object for a YAML
// syntax error, no field for an object-level problem).
struct Error {
    std::string file;     // file name, "<string>", "watch", "grpc", ...
    int line = 0;         // 1-based; 0 = unknown
    std::string object;   // "Service default/web"; empty before the object is known
    std::string field;    // "spec.ports[0].port"; empty for the object as a whole
    std::string message;  // "must be 1-65535"
    std::string to_string() const;
};

template <class T>
using Result = std::variant<T, Error>;

// JSON pointer of a field ("/spec/ports/0/port") → 1-based line in its file.
using LineMap = std::map<std::string, int>;

struct Object {
    std::string api_version;
    std::string kind;
    std::string ns;  // empty for cluster-scoped kinds (Namespace); "default" when a namespaced object names none
    std::string name;
    nlohmann::json body;  // the whole object as read
    std::string source;   // "file:line" of the document (or of the List item)

    std::string file;  // where it was read from, for errors
    int line = 0;      // first line of the object; 0 when unknown
    LineMap lines;     // per-field lines (YAML only; JSON objects have just the start line)

    Object() = default;
    Object(const Object&) = default;
    Object(Object&&) = default;
    Object& operator=(const Object&) = default;
    Object& operator=(Object&&) = default;
    // Frees `body` in place, depth first (nlohmann's destructor moves every node onto a heap
    // stack before freeing it): ~10 % of an EndpointSlice update through the store
    // (perf/bench/control/reconcile_bench, BM_ApplyOneSlice).
    ~Object();

    // Line of the field at `pointer`, or of its nearest ancestor that has one, or `line`.
    int line_of(std::string_view pointer) const;
    // "Service default/web" (or "Namespace prod") for error messages and dumps.
    std::string describe() const;
};

// A file (YAML when it ends in .yaml/.yml, JSON when .json, otherwise guessed from content) or
// a directory (its *.yaml, *.yml and *.json files, not recursive, in name order). Multi-document
// YAML (`---`), a kind `List` (or `ServiceList` …) with items; empty documents are skipped.
Result<std::vector<Object>> load_path(const std::string& path);

// Manifest text. JSON when it parses as JSON (first non-blank character `{` or `[`), otherwise
// YAML. `source_name` stands in for the file name in sources and errors.
Result<std::vector<Object>> load_string(std::string_view text, const std::string& source_name = "<string>");

// One decoded JSON object from the API watcher or gRPC (a List expands to its items).
// `source_name` is e.g. "watch" or "grpc"; there are no line numbers.
Result<std::vector<Object>> objects_from_json(const nlohmann::json& doc, const std::string& source_name);

// JSON pointer ↔ the path people read: "/spec/ports/0/port" ↔ "spec.ports[0].port".
std::string pointer_to_path(std::string_view pointer);
// Appends a key or an index to a JSON pointer, escaping `~` and `/` in keys.
std::string pointer_append(std::string_view pointer, std::string_view key);
std::string pointer_append(std::string_view pointer, size_t index);

}  // namespace enidp::objects
