"""Contract for early childhood education placements from the daycare vendor's database."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import Reference, governed
from contracts.datasets.population import DATES
from contracts.define import define_contract

PLACEMENT_STATUSES = ["applied", "active", "ended", "cancelled"]


class EcePlacementsModel(pa.DataFrameModel):
    """Applications for and placements in early childhood education, one row per placement."""

    placement_id: Series[str] = governed(
        description="Placement number in the vendor system",
        classification=C.INTERNAL,
        source="LPS_SIJ.SIJ_ID",
    )
    child_id: Series[str] = governed(
        description="Personal identity code of the child",
        classification=C.PERSONAL,
        identifier=I.DIRECT,
        source="LPS_SIJ.LPS_HTU",
        henkilotunnus=(),
    )
    unit_code: Series[str] = governed(
        description="Daycare unit code",
        classification=C.PUBLIC,
        source="LPS_SIJ.YKS_KD",
    )
    unit_name: Series[str] = governed(
        description="Daycare unit name",
        classification=C.PUBLIC,
        source="YKS.YKS_NMI",
        no_mojibake=(),
    )
    application_date: Series[pd.Timestamp] = governed(
        description="Date the family applied for the place",
        classification=C.PERSONAL,
        source="LPS_SIJ.HAK_PVM",
        date_between=DATES,
    )
    start_date: Series[pd.Timestamp] = governed(
        description="First day of the placement",
        classification=C.PERSONAL,
        source="LPS_SIJ.ALK_PVM",
        nullable=True,
        date_between=DATES,
    )
    end_date: Series[pd.Timestamp] = governed(
        description="Last day of the placement",
        classification=C.PERSONAL,
        source="LPS_SIJ.PAA_PVM",
        nullable=True,
        date_between=DATES,
    )
    hours_per_week: Series[pd.Int64Dtype] = governed(
        description="Agreed hours of care per week",
        classification=C.PERSONAL,
        source="LPS_SIJ.TNT_VK",
        nullable=True,
        in_range={"min_value": 0, "max_value": 60},
    )
    monthly_fee_eur: Series[float] = governed(
        description="Monthly client fee in euros; empty until the fee is decided",
        classification=C.PERSONAL,
        source="LPS_SIJ.MKS_SNT",
        nullable=True,
        non_negative=(),
    )
    status: Series[str] = governed(
        description="Applied, active, ended or cancelled",
        classification=C.PERSONAL,
        source="LPS_SIJ.TILA",
        isin=PLACEMENT_STATUSES,
    )

    class Config:
        strict = True


ECE_PLACEMENTS = define_contract(
    EcePlacementsModel,
    name="ece_placements",
    version="1.1.0",
    owner="team:early-childhood-education",
    source_system="early_childhood_education",
    purposes=("ece_placement", "daycare_fee_decision"),
    legal_basis="ece_act_540_2018",
    retention="P6Y",
    primary_key=("placement_id",),
    references=(Reference("child_id", "persons", "person_id"),),
    quarantine_limit=0.08,
)
