"""Plain-language words for the documents people sign: data categories, signer types, dates.

HIPAA 164.508(c)(1)(i) wants information described "in a specific and meaningful fashion" and
(c)(3) in plain language; FERPA 99.30(b)(1) wants the records specified. A category code such as
`guardian_contact` means nothing to a parent, so every category the configuration can name has a
short title and a sentence saying exactly what is in it, in English and Spanish. A test checks that
every category in `foundation.config.DATA_CATEGORIES` has both, so a new category cannot ship undescribed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

__all__ = [
    "Language",
    "LANGUAGES",
    "CATEGORY_TITLES",
    "CATEGORY_DESCRIPTIONS",
    "CATEGORY_FIELDS",
    "describe_category",
    "format_date",
]

Language = Literal["en", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "es")

CATEGORY_TITLES: dict[str, dict[str, str]] = {
    "en": {
        "identity": "Student identity",
        "enrollment": "School enrollment",
        "guardian_contact": "Parent or guardian contact",
        "referral": "The referral",
        "visit_summary": "Support visit summaries",
        "referral_status": "Referral status and access to services",
        "attendance": "School attendance",
        "screening": "Screening results",
    },
    "es": {
        "identity": "Identidad del estudiante",
        "enrollment": "Inscripción escolar",
        "guardian_contact": "Contacto del padre, la madre o el tutor",
        "referral": "La remisión (referido)",
        "visit_summary": "Resúmenes de las visitas de apoyo",
        "referral_status": "Estado de la remisión y acceso a los servicios",
        "attendance": "Asistencia escolar",
        "screening": "Resultados de evaluaciones de detección",
    },
}

CATEGORY_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "en": {
        "identity": "The student's first and last name, date of birth and student ID number.",
        "enrollment": "The name of the student's school and the student's grade.",
        "guardian_contact": "The name and home phone number of the student's parent or guardian.",
        "referral": (
            "The referral itself: its date, the reasons for it (for example anxiety, grief or "
            "family stress), how urgent it is, and the name of the staff member who made it."
        ),
        "visit_summary": (
            "A summary of each support visit: the date, the time in and out, the kind of staff "
            "member seen, the purpose of the visit and the kinds of services given. Visit notes "
            "are never shared."
        ),
        "referral_status": (
            "What happened to the referral: whether it was received, accepted or declined, whether "
            "an appointment was scheduled and attended, the date services started, whether "
            "services were completed, and a short reason when the referral could not go ahead."
        ),
        "attendance": "The student's school attendance: days present, absences and late arrivals.",
        "screening": (
            "Results of social, emotional or mental-health screenings the student took at school."
        ),
    },
    "es": {
        "identity": (
            "El nombre y apellido del estudiante, su fecha de nacimiento y su número de "
            "identificación escolar."
        ),
        "enrollment": "El nombre de la escuela del estudiante y el grado que cursa.",
        "guardian_contact": (
            "El nombre y el número de teléfono de la casa del padre, la madre o el tutor del "
            "estudiante."
        ),
        "referral": (
            "La remisión: la fecha, los motivos (por ejemplo, ansiedad, duelo o estrés familiar), "
            "su urgencia y el nombre del miembro del personal que la hizo."
        ),
        "visit_summary": (
            "Un resumen de cada visita de apoyo: la fecha, la hora de entrada y de salida, el tipo "
            "de profesional que atendió al estudiante, el motivo de la visita y los tipos de "
            "servicios prestados. Las notas de las visitas nunca se comparten."
        ),
        "referral_status": (
            "Lo que pasó con la remisión: si fue recibida, aceptada o rechazada, si se programó "
            "una cita y si el estudiante asistió, la fecha en que comenzaron los servicios, si los "
            "servicios concluyeron y un motivo breve cuando la remisión no pudo seguir adelante."
        ),
        "attendance": (
            "La asistencia escolar del estudiante: días presentes, ausencias y llegadas tarde."
        ),
        "screening": (
            "Los resultados de las evaluaciones de detección sociales, emocionales o de salud "
            "mental que el estudiante hizo en la escuela."
        ),
    },
}

# The exchanged fields behind each category, for the MOU's data-element tables (SPEC 5).
CATEGORY_FIELDS: dict[str, tuple[str, ...]] = {
    "identity": ("student ID number", "first name", "last name", "date of birth"),
    "enrollment": ("school name", "grade"),
    "guardian_contact": ("parent/guardian name", "home phone"),
    "referral": ("referral date", "reason codes", "urgency", "referred by"),
    "visit_summary": (
        "visit date",
        "time in",
        "time out",
        "service codes",
        "purpose code",
        "clinician name",
    ),
    "referral_status": ("status", "status date", "first service date", "status reason"),
    "attendance": ("days present", "days absent", "tardies"),
    "screening": ("screening instrument", "screening date", "result"),
}

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
}


def describe_category(code: str, language: Language) -> dict[str, str]:
    """Title and sentence for one category; an unknown code is a programming error, not a blank."""
    return {
        "code": code,
        "title": CATEGORY_TITLES[language][code],
        "description": CATEGORY_DESCRIPTIONS[language][code],
        "fields": ", ".join(CATEGORY_FIELDS[code]),
    }


def format_date(day: dt.date, language: Language) -> str:
    """A date the way people write it ("July 31, 2027" / "31 de julio de 2027"), locale-free."""
    month = _MONTHS[language][day.month - 1]
    if language == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"
