"""proto/optuna_api.proto matches the descriptor Optuna 5.0 ships, field by field: package,
service and method names with their request and reply types, enums and their numbers, every
message's fields with name, number, type, label, and map key/value types."""

import re
from pathlib import Path

from google.protobuf.descriptor import FieldDescriptor
from optuna.storages._grpc.auto_generated import api_pb2

PROTO = Path(__file__).resolve().parents[2] / "proto" / "optuna_api.proto"

SCALARS = {
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_BOOL: "bool",
}


def optuna_schema():
    fd = api_pb2.DESCRIPTOR
    enums = {e.name: {v.name: v.number for v in e.values} for e in fd.enum_types_by_name.values()}
    service = {
        m.name: (m.input_type.name, m.output_type.name)
        for m in fd.services_by_name["StorageService"].methods
    }

    def type_of(f):
        if f.message_type is not None:
            if f.message_type.GetOptions().map_entry:
                k, v = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
                return f"map<{type_of(k)}, {type_of(v)}>"
            return f.message_type.name
        if f.enum_type is not None:
            return f.enum_type.name
        return SCALARS[f.type]

    messages = {}
    for m in fd.message_types_by_name.values():
        fields = {}
        for f in m.fields:
            t = type_of(f)
            label = getattr(f, "label", None)
            is_rep = f.is_repeated if label is None else label == FieldDescriptor.LABEL_REPEATED
            repeated = is_rep and not t.startswith("map<")
            fields[f.name] = (f.number, ("repeated " if repeated else "") + t)
        messages[m.name] = fields
    return fd.package, service, enums, messages


def our_schema():
    text = re.sub(r"//[^\n]*", "", PROTO.read_text())
    package = re.search(r"package\s+(\w+);", text).group(1)
    service = {
        name: (req, rep)
        for name, req, rep in re.findall(r"rpc\s+(\w+)\((\w+)\)\s+returns\s+\((\w+)\);", text)
    }
    enums = {}
    for name, body in re.findall(r"enum\s+(\w+)\s*{([^}]*)}", text):
        enums[name] = {k: int(v) for k, v in re.findall(r"(\w+)\s*=\s*(\d+);", body)}
    messages = {}
    for name, body in re.findall(r"message\s+(\w+)\s*{([^}]*)}", text):
        fields = {}
        for rep, typ, fname, num in re.findall(
            r"(repeated\s+)?(map<\s*\w+\s*,\s*\w+\s*>|\w+)\s+(\w+)\s*=\s*(\d+);", body
        ):
            typ = re.sub(r"\s+", "", typ).replace(",", ", ")
            fields[fname] = (int(num), ("repeated " if rep else "") + typ)
        messages[name] = fields
    return package, service, enums, messages


def test_package_service_enums_and_every_field_match_optuna():
    theirs, ours = optuna_schema(), our_schema()
    assert ours[0] == theirs[0] == "optuna"
    assert ours[1] == theirs[1], "service methods differ"
    assert len(ours[1]) == 19
    assert ours[2] == theirs[2], "enums differ"
    assert set(ours[3]) == set(theirs[3]), "message names differ"
    for name, fields in theirs[3].items():
        assert ours[3][name] == fields, f"message {name} differs"


def test_the_parser_sees_a_difference():
    # The comparison is not vacuous: a changed number or type is caught.
    _, _, _, ours = our_schema()
    _, _, _, theirs = optuna_schema()
    ours["Trial"]["number"] = (3, "int64")
    assert ours["Trial"] != theirs["Trial"]
