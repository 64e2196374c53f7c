#!/usr/bin/python3
"""Turn the .types files (README.md) into C tables for schema.h.

    gen.py OUT.c FILE.types...

Refuses, with file:line, anything it cannot make sense of: an unknown
type, a duplicate field name or protobuf number, an attribute it does not
know, a field without a description."""
import json
import re
import shlex
import sys

SCALARS = {
    "string": "SCH_STRING", "bool": "SCH_BOOL", "int32": "SCH_INT32", "int64": "SCH_INT64",
    "float64": "SCH_FLOAT64", "bytes": "SCH_BYTES", "Quantity": "SCH_QUANTITY",
    "Time": "SCH_TIME", "MicroTime": "SCH_MICROTIME", "Duration": "SCH_DURATION",
    "IntOrString": "SCH_INTORSTRING", "RawExtension": "SCH_RAW",
}
FORMATS = ["", "dns-label", "dns-subdomain", "dns1035-label", "qualified-name", "label-value",
           "label-key", "uid", "port", "cidr", "ip"]
LIST_TYPES = ["", "atomic", "set", "map"]
STRATEGIES = {"merge": "SCH_F_STRAT_MERGE", "retainKeys": "SCH_F_STRAT_RETAINKEYS",
              "replace": "SCH_F_STRAT_REPLACE"}
DEFAULT_VERBS = "create,delete,deletecollection,get,list,patch,update,watch"


class Error(Exception):
    pass


class Field:
    pass


class Type:
    def __init__(self, group, name, desc, where):
        self.group, self.name, self.desc, self.where = group, name, desc, where
        self.fields, self.attrs, self.kind = [], set(), None

    @property
    def cname(self):
        return f"T_{self.group.cid}_{self.name}"


class Group:
    def __init__(self, name, version, proto):
        self.name, self.version, self.proto = name, version, proto
        self.cid = re.sub(r"[^A-Za-z0-9]", "_", f"{name}_{version}")
        self.types = {}

    @property
    def api_group(self):
        return "" if self.name == "core" else self.name


def cstr(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_line(line, where):
    try:
        return shlex.split(line, posix=True)
    except ValueError as e:
        raise Error(f"{where}: {e}")


def parse(files):
    groups, order = {}, []
    for path in files:
        group, cur = None, None
        for no, raw in enumerate(open(path, encoding="utf-8"), 1):
            where = f"{path}:{no}"
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            words = split_line(line, where)
            indented = line[0] in " \t"
            if not indented and words[0] == "group":
                if len(words) != 4:
                    raise Error(f"{where}: group NAME VERSION PROTO-PACKAGE")
                key = f"{words[1]}/{words[2]}"
                if key in groups:
                    # A group may be spread over several files.
                    group = groups[key]
                    if group.proto != words[3]:
                        raise Error(f"{where}: group {key} with another protobuf package")
                else:
                    group = Group(*words[1:])
                    groups[key] = group
                    order.append(group)
                continue
            if group is None:
                raise Error(f"{where}: a group line must come first")
            if not indented and words[0] in ("type", "kind"):
                cur = parse_type(group, words, where)
                continue
            if not indented or cur is None:
                raise Error(f"{where}: a field belongs under a type or kind line")
            cur.fields.append(parse_field(words, where))
    return order


def parse_type(group, words, where):
    if len(words) < 3:
        raise Error(f"{where}: {words[0]} NAME ... \"description\"")
    desc = words[-1]
    if words[0] == "type":
        t = Type(group, words[1], desc, where)
        for a in words[2:-1]:
            if a not in ("atomic", "union"):
                raise Error(f"{where}: unknown type attribute {a}")
            t.attrs.add(a)
    else:
        if len(words) < 5:
            raise Error(f"{where}: kind NAME PLURAL namespaced|cluster [...] \"description\"")
        t = Type(group, words[1], desc, where)
        k = {"plural": words[2], "scope": words[3], "short": "", "cat": "", "sub": "",
             "verbs": DEFAULT_VERBS, "singular": words[1].lower()}
        if k["scope"] not in ("namespaced", "cluster"):
            raise Error(f"{where}: scope must be namespaced or cluster")
        for a in words[4:-1]:
            name, _, value = a.partition("=")
            if name not in ("short", "cat", "sub", "verbs", "singular") or not value:
                raise Error(f"{where}: unknown kind attribute {a}")
            k[name] = value
        t.kind = k
    if t.name in group.types:
        raise Error(f"{where}: {t.name} declared twice in {group.name}/{group.version}")
    group.types[t.name] = t
    return t


def parse_field(words, where):
    if len(words) < 4:
        raise Error(f"{where}: NAME TYPE NUMBER [attributes] \"description\"")
    f = Field()
    f.where = where
    f.name, f.typ = words[0], words[1]
    try:
        f.num = int(words[2])
    except ValueError:
        raise Error(f"{where}: protobuf number {words[2]!r} is not a number")
    f.desc = words[-1]
    if not f.desc or f.desc.split()[0] in SCALARS:
        raise Error(f"{where}: the last word must be the description")
    f.req = f.inline = f.immutable = False
    f.default = f.merge = None
    f.enum, f.keys, f.strategy = [], [], []
    f.list, f.fmt, f.min, f.max = "", "", None, None
    f.map_type = ""
    for a in words[3:-1]:
        name, eq, value = a.partition("=")
        if a == "req":
            f.req = True
        elif a == "inline":
            f.inline = True
        elif a == "immutable":
            f.immutable = True
        elif name == "def" and eq:
            f.default = value
        elif name == "enum" and value:
            f.enum = value.split("|")
        elif name == "merge" and value:
            f.merge = value
        elif name == "strategy" and value:
            f.strategy = value.split(",")
            for s in f.strategy:
                if s not in STRATEGIES:
                    raise Error(f"{where}: unknown patch strategy {s}")
        elif name == "list" and value in LIST_TYPES[1:]:
            f.list = value
        elif name == "keys" and value:
            f.keys = value.split(",")
        elif name == "fmt" and value in FORMATS[1:]:
            f.fmt = value
        elif name == "map" and value in ("atomic", "granular"):
            f.map_type = value
        elif name in ("min", "max") and re.fullmatch(r"-?\d+", value or ""):
            setattr(f, name, int(value))
        else:
            raise Error(f"{where}: unknown field attribute {a}")
    return f


def resolve(groups):
    by_group = {g.name: g for g in groups}
    for g in groups:
        for t in list(g.types.values()):
            if t.kind:
                lt = Type(g, t.name + "List", f"A list of {t.kind['plural']}.", t.where)
                lf = Field()
                lf.__dict__.update(name="metadata", typ="meta.ListMeta", num=1, desc="Standard list metadata.")
                it = Field()
                it.__dict__.update(name="items", typ="[]" + t.name, num=2, desc=f"The {t.kind['plural']}.")
                for f in (lf, it):
                    f.__dict__.update(where=t.where, req=False, inline=False, immutable=False, default=None,
                                      merge=None, enum=[], keys=[], strategy=[], list="", fmt="",
                                      min=None, max=None, map_type="")
                lt.fields = [lf, it]
                lt.is_list = True
                if lt.name in g.types:
                    raise Error(f"{t.where}: {lt.name} is declared by hand and implied by kind {t.name}")
                g.types[lt.name] = lt
                t.list_type = lt
    for g in groups:
        for t in g.types.values():
            names, nums = set(), set()
            for f in t.fields:
                if f.name in names:
                    raise Error(f"{f.where}: field {f.name} twice in {t.name}")
                if f.num in nums or f.num <= 0:
                    raise Error(f"{f.where}: protobuf number {f.num} reused or invalid in {t.name}")
                names.add(f.name)
                nums.add(f.num)
                typ = f.typ
                f.container = "SCH_ONE"
                if typ.startswith("[]"):
                    f.container, typ = "SCH_LIST", typ[2:]
                elif typ.startswith("map[string]"):
                    f.container, typ = "SCH_MAP", typ[len("map[string]"):]
                if typ in SCALARS:
                    f.scalar, f.ref = SCALARS[typ], None
                else:
                    gname, _, tname = typ.rpartition(".")
                    tg = by_group.get(gname) if gname else g
                    if tg is None or tname not in tg.types:
                        raise Error(f"{f.where}: unknown type {typ}")
                    f.scalar, f.ref = "SCH_MESSAGE", tg.types[tname]
                if f.inline and (f.ref is None or f.container != "SCH_ONE"):
                    raise Error(f"{f.where}: only a single struct can be inline")
                if f.list == "map" and not f.keys:
                    raise Error(f"{f.where}: list=map needs keys=")
                f.default = json_default(f)


def json_default(f):
    """The default as a JSON literal. The .types reader drops the quotes of
    def="Always", so string-valued fields get them back here."""
    if f.default is None:
        return None
    try:
        v = json.loads(f.default)
    except ValueError:
        v = None
        ok = False
    else:
        ok = True
    stringy = f.scalar in ("SCH_STRING", "SCH_QUANTITY", "SCH_TIME", "SCH_MICROTIME", "SCH_DURATION")
    if f.container == "SCH_ONE" and (stringy or f.scalar == "SCH_INTORSTRING"):
        if ok and (isinstance(v, str) or (f.scalar == "SCH_INTORSTRING" and isinstance(v, int))):
            return f.default
        return json.dumps(f.default)
    if not ok:
        raise Error(f"{f.where}: def={f.default} is not a JSON value")
    return f.default


def emit(groups, out):
    w = out.write
    w("/* Generated by controlplane/apiserver/schema/gen.py from the .types files. */\n")
    w('#include "apiserver/schema.h"\n\n')
    types = [t for g in groups for t in g.types.values()]
    for t in types:
        w(f"extern const struct sch_type {t.cname};\n")
    w("\n")
    for t in types:
        for i, f in enumerate(t.fields):
            if f.enum:
                w(f"static const char *const E_{t.cname}_{i}[] = {{{', '.join(map(cstr, f.enum))}, NULL}};\n")
            if f.keys:
                w(f"static const char *const K_{t.cname}_{i}[] = {{{', '.join(map(cstr, f.keys))}, NULL}};\n")
        w(f"static const struct sch_field F_{t.cname}[] = {{\n")
        for i, f in enumerate(t.fields):
            flags = []
            if f.req:
                flags.append("SCH_F_REQUIRED")
            if f.inline:
                flags.append("SCH_F_INLINE")
            if f.immutable:
                flags.append("SCH_F_IMMUTABLE")
            flags += [STRATEGIES[s] for s in f.strategy]
            if f.min is not None:
                flags.append("SCH_F_MIN")
            if f.max is not None:
                flags.append("SCH_F_MAX")
            if f.map_type == "atomic":
                flags.append("SCH_F_MAP_ATOMIC")
            elif f.map_type == "granular":
                flags.append("SCH_F_MAP_GRANULAR")
            w(f"\t{{.name = {cstr(f.name)}, .desc = {cstr(f.desc)}, .num = {f.num},\n"
              f"\t .scalar = {f.scalar}, .container = {f.container}, .flags = {' | '.join(flags) or 0},\n"
              f"\t .type = {'&' + f.ref.cname if f.ref else 'NULL'}, .def = {cstr(f.default)},\n"
              f"\t .enums = {f'E_{t.cname}_{i}' if f.enum else 'NULL'}, .merge_key = {cstr(f.merge)},\n"
              f"\t .list_type = {LIST_TYPES.index(f.list)}, .list_keys = {f'K_{t.cname}_{i}' if f.keys else 'NULL'},\n"
              f"\t .fmt = {FORMATS.index(f.fmt)}, .min = {f.min or 0}, .max = {f.max or 0}}},\n")
        w("};\n")
        tflags = []
        if "atomic" in t.attrs:
            tflags.append("SCH_T_ATOMIC")
        if "union" in t.attrs:
            tflags.append("SCH_T_UNION")
        if getattr(t, "is_list", False):
            tflags.append("SCH_T_LIST")
        if t.kind:
            tflags.append("SCH_T_KIND")
        w(f"const struct sch_type {t.cname} = {{.name = {cstr(t.name)}, .group = {cstr(t.group.api_group)},\n"
          f"\t.version = {cstr(t.group.version)}, .proto = {cstr(t.group.proto + '.' + t.name)},\n"
          f"\t.desc = {cstr(t.desc)}, .fields = F_{t.cname}, .nfields = {len(t.fields)},\n"
          f"\t.flags = {' | '.join(tflags) or 0}}};\n\n")
    w("const struct sch_type *const sch_types[] = {\n")
    for t in types:
        w(f"\t&{t.cname},\n")
    w("};\nconst size_t sch_ntypes = sizeof(sch_types) / sizeof(sch_types[0]);\n\n")
    kinds = [t for t in types if t.kind]
    for t in kinds:
        for a in ("short", "cat", "sub", "verbs"):
            vals = [v for v in t.kind[a].split(",") if v]
            w(f"static const char *const {a.upper()}_{t.cname}[] = {{{', '.join(map(cstr, vals + [None]))}}};\n")
    w("\nconst struct sch_kind sch_kinds[] = {\n")
    for t in kinds:
        k = t.kind
        w(f"\t{{.group = {cstr(t.group.api_group)}, .version = {cstr(t.group.version)},\n"
          f"\t .kind = {cstr(t.name)}, .plural = {cstr(k['plural'])}, .singular = {cstr(k['singular'])},\n"
          f"\t .namespaced = {'true' if k['scope'] == 'namespaced' else 'false'},\n"
          f"\t .short_names = SHORT_{t.cname}, .categories = CAT_{t.cname},\n"
          f"\t .subresources = SUB_{t.cname}, .verbs = VERBS_{t.cname},\n"
          f"\t .type = &{t.cname}, .list_type = &{t.list_type.cname}}},\n")
    w("};\nconst size_t sch_nkinds = sizeof(sch_kinds) / sizeof(sch_kinds[0]);\n")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        groups = parse(sys.argv[2:])
        resolve(groups)
    except Error as e:
        print(f"gen.py: {e}", file=sys.stderr)
        sys.exit(1)
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        emit(groups, out)


if __name__ == "__main__":
    main()
