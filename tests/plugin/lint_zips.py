"""Zips for the lint tests: a raw writer that allows the defects write_zip refuses, and the
structure of published plugins whose licence does not allow copying them.

`connector_plugin_files()` rebuilds the structure of tulsaschools/ps-avela-enrollment
`src/plugin.xml` and `src/queries_root/org.tulsaschools.avela.named_queries.xml` (commit
4d6d1e3490c472ab033196667cc0de79560077f1; no licence file, so not copied): an `<oauth/>` plugin
whose access request lists SCHOOLS fields ViewOnly and STUDENTS fields FullAccess (written by its
client through /ws/schema/table), and one PowerQuery named with four dot-separated parts and a
`primitive` argument with a default and no `column`. The text here is ours; the shape is theirs.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

__all__ = ["raw_zip", "connector_plugin_files"]


def raw_zip(path: Path, entries: list[tuple[str, bytes]] | dict[str, bytes]) -> Path:
    """Write entries exactly as given (any name, duplicates allowed), in the given order."""
    items = list(entries.items()) if isinstance(entries, dict) else entries
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": planted on purpose
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return path


_PLUGIN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<plugin xmlns="http://plugin.powerschool.pearson.com"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://plugin.powerschool.pearson.com plugin.xsd"
  name="District Enrollment Connector" version="0.7.1" description="Enrollment connector">
  <publisher name="A District">
    <contact phone="555-000-0000" email="devteam@district.example.org"/>
  </publisher>
  <oauth />
  <access_request>
    <field table="schools" field="dcid" access="ViewOnly" />
    <field table="schools" field="school_number" access="ViewOnly" />
    <field table="schools" field="name" access="ViewOnly" />
    <field table="schools" field="low_Grade" access="ViewOnly" />
    <field table="students" field="dcid" access="ViewOnly" />
    <field table="students" field="first_name" access="FullAccess" />
    <field table="students" field="last_name" access="FullAccess" />
  </access_request>
</plugin>
"""

_QUERIES_XML = """<queries>
  <query name="org.district.enrollment.schoolInfo" coreTable="schools" flattened="true">
    <description>School info</description>
    <args>
      <arg name="school_number" type="primitive" required="false" default="0" />
    </args>
    <columns>
      <column column="schools.school_number">schoolNumber</column>
      <column column="schools.dcid">schoolsDcid</column>
      <column column="schools.name">schoolname</column>
      <column column="schools.low_Grade">lowGrade</column>
    </columns>
    <sql>
      <![CDATA[
        SELECT School_Number, DCID, Name, Low_Grade
        FROM Schools
        WHERE :school_number IN (0, School_Number)
        ORDER BY School_Number
      ]]>
    </sql>
  </query>
</queries>
"""


def connector_plugin_files() -> dict[str, bytes]:
    return {
        "plugin.xml": _PLUGIN_XML.encode(),
        "queries_root/org.district.enrollment.named_queries.xml": _QUERIES_XML.encode(),
    }
