"""Which authority reviews a holder's card orders.

The rule: a professional identified by RPPS whose profession is registered by an Ordre goes to that Ordre;
everyone else (ADELI professions, professionals still identified by ADELI, a structure's staff) goes to ANS.
So a person who moves from ADELI to RPPS through the correspondence file moves to their Ordre's queue.
"""

from .models import Authority, Exercise, Profession, Professional

ANS_CODE = "ANS"


def ans() -> Authority:
    return Authority.objects.get(code=ANS_CODE)


def authority_for(professional: Professional, profession: Profession | None) -> Authority:
    if profession is not None and profession.authority_id and professional.rpps:
        return profession.authority  # type: ignore[return-value]
    return ans()


def authority_for_exercise(exercise: Exercise | None, professional: Professional) -> Authority:
    return authority_for(professional, exercise.profession if exercise else None)
