"""Harvests a seednet node's OAI-PMH provider with a harvester from PyPI and
prints, as JSON, what the harvester saw: every record of a full ListRecords
(over its resumption pages), a selective harvest by set and by `from`, the
deleted record, and the error code of each provoked error.

Usage: harvest_oai.py sickle|scythe ENDPOINT SET FROM DELETED_IDENTIFIER
"""

import json
import sys

tool, endpoint, set_spec, from_date, deleted_identifier = sys.argv[1:6]
OAI = "{http://www.openarchives.org/OAI/2.0/}"


def header_of(header):
    return {
        "identifier": header.identifier,
        "datestamp": header.datestamp,
        "deleted": bool(header.deleted),
        "sets": list(header.setSpecs),
    }


def record_of(record):
    seen = header_of(record.header)
    metadata = getattr(record, "metadata", None) or {}
    seen["title"] = (metadata.get("title") or [None])[0]
    seen["rights"] = (metadata.get("rights") or [None])[0]
    return seen


report = {"tool": tool}
if tool == "sickle":
    from sickle import Sickle

    harvester = Sickle(endpoint, max_retries=0)
    everything = harvester.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False)
    report["all"] = [record_of(record) for record in everything]
    report["set"] = [
        header_of(header)
        for header in harvester.ListIdentifiers(metadataPrefix="oai_dc", set=set_spec)
    ]
    report["from"] = [
        header_of(header)
        for header in harvester.ListIdentifiers(metadataPrefix="oai_dc", **{"from": from_date})
    ]
    report["deleted"] = header_of(
        harvester.GetRecord(identifier=deleted_identifier, metadataPrefix="oai_dc").header
    )
    report["identify"] = harvester.Identify().deletedRecord
    report["formats"] = [f.metadataPrefix for f in harvester.ListMetadataFormats()]
    report["sets"] = [s.setSpec for s in harvester.ListSets()]
    posting = Sickle(endpoint, http_method="POST", max_retries=0)
    report["post"] = [
        h.identifier for h in posting.ListIdentifiers(metadataPrefix="schema_org")
    ]
    # Errors, read from the raw response (sickle names one exception class
    # differently from the specification's code).
    errors = {}
    for name, arguments in {
        "badVerb": {"verb": "Dance"},
        "badArgument": {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"},
        "badResumptionToken": {"verb": "ListRecords", "resumptionToken": "v1!nonsense"},
        "cannotDisseminateFormat": {"verb": "ListRecords", "metadataPrefix": "marc21"},
        "idDoesNotExist": {
            "verb": "GetRecord",
            "metadataPrefix": "oai_dc",
            "identifier": "oai:elsewhere.example:x/y",
        },
        "noRecordsMatch": {"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "9999-01-01"},
        "noMetadataFormats": {"verb": "ListMetadataFormats", "identifier": deleted_identifier},
    }.items():
        response = harvester.harvest(**arguments)
        error = response.xml.find(OAI + "error")
        errors[name] = None if error is None else error.get("code")
    report["errors"] = errors
else:
    from oaipmh_scythe import Scythe

    with Scythe(endpoint) as harvester:
        everything = harvester.list_records(metadata_prefix="oai_dc", ignore_deleted=False)
        report["all"] = [record_of(record) for record in everything]
        report["set"] = [
            header_of(header)
            for header in harvester.list_identifiers(metadata_prefix="oai_dc", set_=set_spec)
        ]
        report["from"] = [
            header_of(header)
            for header in harvester.list_identifiers(metadata_prefix="oai_dc", from_=from_date)
        ]
        report["deleted"] = header_of(
            harvester.get_record(identifier=deleted_identifier, metadata_prefix="oai_dc").header
        )

print(json.dumps(report))
