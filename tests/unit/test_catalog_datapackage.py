"""The data package, pure: the district seed written as HSDS CSV tables reads back as the same package, and a bad
row of another directory's tables is named by file and line."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime

import pytest
from fakes.catalog import district_seed

from services.catalog import datapackage
from services.catalog.domain import SeedCatalog, seed_upserts


def tables_of(package: SeedCatalog) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(datapackage.csv_zip(package, exported_at=datetime(2026, 10, 1, tzinfo=UTC))))
    assert "datapackage.json" in archive.namelist()
    return {name: archive.read(name).decode() for name in archive.namelist() if name.endswith(".csv")}


def test_the_seed_as_csv_tables_reads_back_as_the_same_upserts() -> None:
    seed = district_seed()
    back = datapackage.read_csv_tables(tables_of(seed))
    assert dict(seed_upserts(back)) == dict(seed_upserts(seed))


@pytest.mark.parametrize(
    ("files", "fields"),
    [
        ({"services.csv": "id\n"}, ["organizations.csv"]),
        (
            {"organizations.csv": "id,name\no-1,Org\n", "services.csv": "id,organization_id,name,description\n"
             "s-1,o-1,Name,Text\n", "languages.csv": "id,service_id,code\nl,s-1,english\n",
             "attributes.csv": "id,link_id,taxonomy_term_id\na,s-1,psc-category:nothing\n"},
            ["services.csv:2.languages.0", "services.csv:2.categories.0"],
        ),
        (
            {"organizations.csv": "id,name,email\no-1,Org,not-an-email\n", "services.csv": "id\n"},
            ["organizations.csv:2.email"],
        ),
    ],
)  # fmt: skip
def test_bad_rows_are_named_by_file_and_line(files: dict[str, str], fields: list[str]) -> None:
    with pytest.raises(datapackage.InvalidPackage) as refused:
        datapackage.read_csv_tables(files)
    assert [error.field for error in refused.value.errors] == fields


def test_hsds_addresses_in_their_own_table_are_read() -> None:
    files = {
        "organizations.csv": "id,name\no-1,Org\n",
        "locations.csv": "id,organization_id,name\nl-1,o-1,Main office\n",
        "addresses.csv": "id,location_id,address_1,city,state_province,postal_code\na,l-1,1 Main St,Chicago,IL,60601\n",
        "services.csv": "id\n",
    }
    package = datapackage.read_csv_tables(files)
    assert package.organizations[0].locations[0].address_1 == "1 Main St"
