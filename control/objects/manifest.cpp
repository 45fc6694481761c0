#include "control/objects/manifest.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <type_traits>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace enidp::objects {
namespace {

using nlohmann::json;

// Thrown inside the YAML conversion, caught by the public entry points.
struct YamlFailure {
    int line;
    std::string message;
};

bool is_yaml_null(const std::string& s) { return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL"; }

std::optional<bool> yaml_bool(const std::string& s) {
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
    return std::nullopt;
}

// YAML 1.2 core-schema integers: decimal, 0x hex, 0o octal.
std::optional<json> yaml_int(std::string_view s) {
    bool negative = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
        base = s[1] == 'x' ? 16 : 8;
        s.remove_prefix(2);
    }
    if (s.empty()) return std::nullopt;
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value, base);
    if (end != s.data() + s.size()) return std::nullopt;
    if (ec == std::errc::result_out_of_range) return json(negative ? -1e300 : 1e300);  // far out of any range we check
    if (ec != std::errc()) return std::nullopt;
    if (!negative) return json(value);
    if (value > uint64_t{1} << 63) return json(-1e300);
    return json(static_cast<int64_t>(0 - value));
}

// YAML 1.2 core-schema floats (no .inf/.nan: JSON has no such numbers, they stay strings).
std::optional<json> yaml_float(std::string_view s) {
    std::string_view digits = s;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    if (digits.empty() || !(std::isdigit(static_cast<unsigned char>(digits[0])) || digits[0] == '.')) {
        return std::nullopt;
    }
    if (digits.find_first_not_of("0123456789.eE+-") != std::string_view::npos) return std::nullopt;
    double value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return json(s[0] == '-' ? -value : value);
}

json scalar_to_json(const std::string& s, const std::string& tag) {
    // "!" marks a quoted scalar; an explicit !!str too: both stay strings whatever they hold.
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;
    if (is_yaml_null(s)) return nullptr;
    if (const auto b = yaml_bool(s)) return *b;
    if (auto i = yaml_int(s)) return std::move(*i);
    if (auto f = yaml_float(s)) return std::move(*f);
    return s;
}

// Builds one YAML document as JSON straight from the parser's events, recording the line of
// every field by JSON pointer. (Not YAML::LoadAll: yaml-cpp 0.7 loops forever on a document
// that starts with a stray ',' — jbeder/yaml-cpp#1040 — and the caller must see every
// document to stop that.)
class JsonBuilder : public YAML::EventHandler {
public:
    explicit JsonBuilder(LineMap& lines) : lines_(lines) {}

    bool empty() const { return !root_; }
    json take_root() { return std::move(*root_); }
    int root_line() const { return root_line_; }
    const YAML::Mark& null_mark() const { return null_mark_; }

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        if (stack_.empty()) null_mark_ = mark;
        if (stack_.empty()) return;  // an empty document
        add_leaf(mark, nullptr, anchor, "~");
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        const auto it = anchors_.find(anchor);
        add_leaf(mark, it == anchors_.end() ? json(nullptr) : it->second, 0, "");
    }
    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        add_leaf(mark, scalar_to_json(value, tag), anchor, value);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, json::array(), anchor);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, json::object(), anchor);
    }
    void OnMapEnd() override { close(); }

private:
    struct Frame {
        json value;
        std::string pointer;
        YAML::anchor_t anchor = 0;
        std::optional<std::string> key;  // maps: the key whose value comes next
        std::map<std::string, int> key_lines;
    };

    static int line(const YAML::Mark& m) { return m.is_null() ? 0 : m.line + 1; }

    // Where a new child of the top frame goes: its pointer, or nullopt when it is a map key.
    std::optional<std::string> child_pointer() const {
        if (stack_.empty()) return std::string();
        const Frame& top = stack_.back();
        if (top.value.is_array()) return pointer_append(top.pointer, top.value.size());
        if (!top.key) return std::nullopt;
        return pointer_append(top.pointer, *top.key);
    }

    int child_line(const YAML::Mark& mark) const {
        const Frame* top = stack_.empty() ? nullptr : &stack_.back();
        // A map value is reported on its key's line (a nested map starts on the next line).
        if (top != nullptr && top->value.is_object() && top->key) return top->key_lines.at(*top->key);
        return line(mark);
    }

    void add_leaf(const YAML::Mark& mark, json value, YAML::anchor_t anchor, const std::string& raw) {
        if (!stack_.empty() && stack_.back().value.is_object() && !stack_.back().key) {
            Frame& top = stack_.back();
            const auto [it, fresh] = top.key_lines.emplace(raw, line(mark));
            if (!fresh) {
                throw YamlFailure{line(mark),
                                  "duplicate key \"" + raw + "\" (first at line " + std::to_string(it->second) + ")"};
            }
            top.key = raw;
            return;
        }
        const std::optional<std::string> pointer = child_pointer();
        lines_.emplace(*pointer, child_line(mark));
        if (anchor != 0) anchors_[anchor] = value;
        attach(std::move(value), line(mark));
    }

    void open(const YAML::Mark& mark, json value, YAML::anchor_t anchor) {
        const std::optional<std::string> pointer = child_pointer();
        if (!pointer) throw YamlFailure{line(mark), "mapping keys must be plain strings"};
        lines_.emplace(*pointer, child_line(mark));
        stack_.push_back(Frame{std::move(value), *pointer, anchor, std::nullopt, {}});
        if (stack_.size() == 1) root_line_ = line(mark);
    }

    void close() {
        Frame done = std::move(stack_.back());
        stack_.pop_back();
        if (done.anchor != 0) anchors_[done.anchor] = done.value;
        attach(std::move(done.value), root_line_);
    }

    void attach(json value, int line_if_root) {
        if (stack_.empty()) {
            root_ = std::move(value);
            if (root_line_ == 0) root_line_ = line_if_root;
            return;
        }
        Frame& top = stack_.back();
        if (top.value.is_array()) {
            top.value.push_back(std::move(value));
        } else {
            top.value[*top.key] = std::move(value);
            top.key.reset();
        }
    }

    LineMap& lines_;
    std::vector<Frame> stack_;
    std::map<YAML::anchor_t, json> anchors_;
    std::optional<json> root_;
    int root_line_ = 0;
    YAML::Mark null_mark_ = YAML::Mark::null_mark();
};

// Strips nlohmann's "[json.exception.parse_error.101] " prefix.
std::string json_error_text(const std::exception& e) {
    std::string what = e.what();
    const auto close = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && close != std::string::npos) what = what.substr(close + 2);
    return what;
}

int line_at_byte(std::string_view text, size_t byte) {
    byte = std::min(byte, text.size());
    return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(byte), '\n'));
}

bool is_cluster_scoped(const std::string& kind) {
    return kind == "Namespace" || kind == "Node" || kind == "CustomResourceDefinition";
}

// The entries of `lines` under `prefix`, re-rooted at "".
LineMap sub_lines(const LineMap& lines, const std::string& prefix) {
    LineMap out;
    for (auto it = lines.lower_bound(prefix); it != lines.end(); ++it) {
        const std::string& p = it->first;
        if (p.compare(0, prefix.size(), prefix) != 0) break;
        if (p.size() == prefix.size()) {
            out.emplace("", it->second);
        } else if (p[prefix.size()] == '/') {
            out.emplace(p.substr(prefix.size()), it->second);
        }
    }
    return out;
}

struct Document {
    json body;
    LineMap lines;
    std::string file;
    int line = 0;
};

// Line of the field at `pointer`, or of its nearest ancestor that has one, or `fallback`.
int line_in(const LineMap& lines, std::string_view pointer, int fallback) {
    std::string p(pointer);
    for (;;) {
        if (const auto it = lines.find(p); it != lines.end()) return it->second;
        if (p.empty()) return fallback;
        p.erase(p.rfind('/'));
    }
}

Error doc_error(const Document& d, const std::string& object, const std::string& pointer, std::string message) {
    return Error{d.file, line_in(d.lines, pointer, d.line), object, pointer_to_path(pointer), std::move(message)};
}

Result<Object> make_object(Document d) {
    if (!d.body.is_object()) return doc_error(d, "", "", "a manifest document must be a mapping (a Kubernetes object)");
    Object o;
    const json& body = d.body;
    const auto kind = body.find("kind");
    if (kind == body.end() || !kind->is_string() || kind->get_ref<const std::string&>().empty()) {
        return doc_error(d, "", "/kind", "is required (a non-empty string)");
    }
    o.kind = *kind;
    const auto api = body.find("apiVersion");
    if (api == body.end() || !api->is_string() || api->get_ref<const std::string&>().empty()) {
        return doc_error(d, o.kind, "/apiVersion", "is required (a non-empty string)");
    }
    o.api_version = *api;
    const auto meta = body.find("metadata");
    if (meta == body.end() || !meta->is_object()) return doc_error(d, o.kind, "/metadata", "is required (a mapping)");
    const auto name = meta->find("name");
    if (name == meta->end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
        return doc_error(d, o.kind, "/metadata/name", "is required (a non-empty string)");
    }
    o.name = *name;
    if (!is_cluster_scoped(o.kind)) {
        const auto ns = meta->find("namespace");
        if (ns != meta->end() && !ns->is_null()) {
            if (!ns->is_string()) return doc_error(d, o.kind + " " + o.name, "/metadata/namespace", "must be a string");
            o.ns = *ns;
        }
        if (o.ns.empty()) o.ns = "default";
    }
    o.body = std::move(d.body);
    o.file = std::move(d.file);
    o.line = d.line;
    o.lines = std::move(d.lines);
    o.source = o.line > 0 ? o.file + ":" + std::to_string(o.line) : o.file;
    return o;
}

// A document is one object or a List of them; appends to `out`.
std::optional<Error> add_document(Document d, std::vector<Object>& out) {
    const json* kind = d.body.is_object() && d.body.contains("kind") ? &d.body["kind"] : nullptr;
    const bool list = kind != nullptr && kind->is_string() && kind->get_ref<const std::string&>().ends_with("List") &&
                      d.body.contains("items");
    if (!list) {
        auto o = make_object(std::move(d));
        if (auto* e = std::get_if<Error>(&o)) return std::move(*e);
        out.push_back(std::move(std::get<Object>(o)));
        return std::nullopt;
    }
    // `kind: List` items carry their own kind; a typed list (ServiceList, from the API server)
    // gives its items the kind and apiVersion they omit.
    const std::string list_kind = *kind;
    const std::string item_kind = list_kind == "List" ? "" : list_kind.substr(0, list_kind.size() - 4);
    const json& items = d.body["items"];
    if (!items.is_array()) return doc_error(d, list_kind, "/items", "must be a list");
    for (size_t i = 0; i < items.size(); ++i) {
        const std::string pointer = pointer_append("", i);
        const std::string prefix = "/items" + pointer;
        Document item{items[i], sub_lines(d.lines, prefix), d.file, d.line};
        if (const auto it = d.lines.find(prefix); it != d.lines.end()) item.line = it->second;
        if (item.body.is_object() && !item_kind.empty()) {
            if (!item.body.contains("kind")) item.body["kind"] = item_kind;
            if (!item.body.contains("apiVersion") && d.body.contains("apiVersion")) {
                item.body["apiVersion"] = d.body["apiVersion"];
            }
        }
        if (item.body.is_object() && item.body.contains("kind") && item.body["kind"].is_string() &&
            item.body["kind"].get_ref<const std::string&>().ends_with("List") && item.body.contains("items")) {
            return doc_error(d, list_kind, prefix, "a List may not hold another List");
        }
        if (auto e = add_document(std::move(item), out)) return e;
    }
    return std::nullopt;
}

Result<std::vector<Object>> load_yaml(std::string_view text, const std::string& file) {
    std::vector<Object> out;
    try {
        std::istringstream in{std::string(text)};
        YAML::Parser parser(in);
        std::optional<int> last_empty;  // stream position of the previous empty document
        for (;;) {
            Document d;
            d.file = file;
            JsonBuilder builder(d.lines);
            if (!parser.HandleNextDocument(builder)) break;
            if (builder.empty()) {
                // An empty document (`---` with nothing after it) is skipped; the same one twice
                // means the parser is stuck on a token it cannot use.
                const YAML::Mark& m = builder.null_mark();
                if (last_empty && *last_empty == m.pos) {
                    const size_t pos = static_cast<size_t>(m.pos);
                    const std::string what = pos < text.size() ? " '" + std::string(1, text[pos]) + "'" : "";
                    return Error{file, m.line + 1, "", "", "YAML syntax error: unexpected" + what};
                }
                last_empty = m.pos;
                continue;
            }
            d.line = builder.root_line() > 0 ? builder.root_line() : 1;
            d.body = builder.take_root();
            if (auto e = add_document(std::move(d), out)) return std::move(*e);
        }
    } catch (const YamlFailure& f) {
        return Error{file, f.line, "", "", f.message};
    } catch (const YAML::Exception& e) {
        return Error{file, e.mark.is_null() ? 0 : e.mark.line + 1, "", "", "YAML syntax error: " + e.msg};
    }
    return out;
}

Result<std::vector<Object>> load_json(std::string_view text, const std::string& file) {
    json doc;
    try {
        doc = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
        return Error{file, line_at_byte(text, e.byte == 0 ? 0 : e.byte - 1), "", "",
                     "JSON syntax error: " + json_error_text(e)};
    }
    const size_t first = text.find_first_not_of(" \t\r\n");
    const int line = first == std::string_view::npos ? 1 : line_at_byte(text, first);
    std::vector<Object> out;
    if (auto e = add_document(Document{std::move(doc), LineMap{{"", line}}, file, line}, out)) return std::move(*e);
    return out;
}

bool looks_like_json(std::string_view text) {
    const size_t first = text.find_first_not_of(" \t\r\n");
    return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

Result<std::vector<Object>> load_one_file(const std::filesystem::path& path) {
    const std::string file = path.string();
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error{file, 0, "", "", "cannot open the file"};
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Error{file, 0, "", "", "cannot read the file"};
    const std::string ext = path.extension().string();
    if (ext == ".json") return load_json(text.str(), file);
    if (ext == ".yaml" || ext == ".yml") return load_yaml(text.str(), file);
    return load_string(text.str(), file);
}

// Empties the containers of `j` bottom-up, `depth` levels down; what lies deeper is left to
// nlohmann's destructor (no unbounded recursion on a deeply nested document).
void free_depth_first(nlohmann::json& j, int depth) {
    if (j.is_object()) {
        auto& members = j.get_ref<json::object_t&>();
        for (auto& [key, value] : members) {
            if (value.is_structured() && depth > 0) free_depth_first(value, depth - 1);
        }
        members.clear();
    } else if (j.is_array()) {
        auto& items = j.get_ref<json::array_t&>();
        for (json& value : items) {
            if (value.is_structured() && depth > 0) free_depth_first(value, depth - 1);
        }
        items.clear();
    }
}

}  // namespace

Object::~Object() { free_depth_first(body, 64); }
static_assert(std::is_nothrow_move_constructible_v<Object>, "vectors of objects must move them, not copy");

std::string Error::to_string() const {
    std::string out;
    if (!file.empty()) out += line > 0 ? file + ":" + std::to_string(line) + ": " : file + ": ";
    if (!object.empty()) out += object + ": ";
    if (!field.empty()) out += field + ": ";
    return out + message;
}

int Object::line_of(std::string_view pointer) const { return line_in(lines, pointer, line); }

std::string Object::describe() const { return ns.empty() ? kind + " " + name : kind + " " + ns + "/" + name; }

Result<std::vector<Object>> load_path(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return Error{path, 0, "", "", "no such file or directory"};
    if (!fs::is_directory(st)) return load_one_file(path);
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
        const std::string ext = entry.path().extension().string();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
            files.push_back(entry.path());
        }
    }
    if (ec) return Error{path, 0, "", "", "cannot list the directory: " + ec.message()};
    std::sort(files.begin(), files.end());
    std::vector<Object> out;
    for (const fs::path& f : files) {
        auto r = load_one_file(f);
        if (auto* e = std::get_if<Error>(&r)) return std::move(*e);
        auto& objs = std::get<std::vector<Object>>(r);
        std::move(objs.begin(), objs.end(), std::back_inserter(out));
    }
    return out;
}

Result<std::vector<Object>> load_string(std::string_view text, const std::string& source_name) {
    if (looks_like_json(text)) {
        auto r = load_json(text, source_name);
        // `{kind: Service, ...}` is YAML flow style, not JSON: give YAML its chance.
        if (std::holds_alternative<std::vector<Object>>(r) ||
            std::get<Error>(r).message.rfind("JSON syntax error", 0) != 0) {
            return r;
        }
        auto y = load_yaml(text, source_name);
        return std::holds_alternative<std::vector<Object>>(y) ? y : r;
    }
    return load_yaml(text, source_name);
}

Result<std::vector<Object>> objects_from_json(const json& doc, const std::string& source_name) {
    std::vector<Object> out;
    if (auto e = add_document(Document{doc, LineMap{}, source_name, 0}, out)) return std::move(*e);
    return out;
}

std::string pointer_to_path(std::string_view pointer) {
    std::string out;
    size_t pos = 0;
    while (pos < pointer.size() && pointer[pos] == '/') {
        const size_t next = pointer.find('/', pos + 1);
        std::string seg(
            pointer.substr(pos + 1, next == std::string_view::npos ? std::string_view::npos : next - pos - 1));
        for (size_t i = 0; (i = seg.find('~', i)) != std::string::npos; ++i) {
            seg.replace(i, 2, i + 1 < seg.size() && seg[i + 1] == '1' ? "/" : "~");
        }
        const bool index = !seg.empty() && seg.find_first_not_of("0123456789") == std::string::npos;
        if (index || seg.find_first_of("./") != std::string::npos) {
            out += "[" + seg + "]";
        } else {
            out += (out.empty() ? "" : ".") + seg;
        }
        if (next == std::string_view::npos) break;
        pos = next;
    }
    return out;
}

std::string pointer_append(std::string_view pointer, std::string_view key) {
    std::string out(pointer);
    out += '/';
    for (const char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

std::string pointer_append(std::string_view pointer, size_t index) {
    return std::string(pointer) + "/" + std::to_string(index);
}

}  // namespace enidp::objects
