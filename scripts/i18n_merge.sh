#!/bin/sh
# Regenerate the catalogues and merge the translators' fragments (locale/fragments/*.po) into them.
#
#   scripts/i18n_merge.sh            (from the repository's root, with the venv built)
#
# 1. makemessages -l fr -l en, exactly as tests/test_i18n.py regenerates them;
# 2. the French catalogue takes every msgstr the fragments give (a fragment wins over what was there);
#    the fuzzy flags makemessages leaves are dropped only where a fragment translated the entry;
# 3. compilemessages. tests/test_i18n.py then fails on anything left untranslated or fuzzy.
set -eu
PY=${PY:-.venv/bin/python}
$PY manage.py makemessages -l fr -l en --ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*' >/dev/null
if ls locale/fragments/*.po >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    # The fragments, one catalogue (the first fragment wins on a conflict), then laid over the French one.
    # Fragments need no header: each gets one (with its charset) in a copy.
    for fragment in locale/fragments/*.po; do
        if grep -q '^"Content-Type:' "$fragment"; then cp "$fragment" "$tmp/frag-$(basename "$fragment")"
        else printf 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n' | cat - "$fragment" > "$tmp/frag-$(basename "$fragment")"
        fi
    done
    msgcat --use-first -o "$tmp/fragments.po" "$tmp"/frag-*.po
    msgmerge --quiet --no-fuzzy-matching -o "$tmp/fr.po" "$tmp/fragments.po" locale/fr/LC_MESSAGES/django.po
    # $tmp/fr.po: the French catalogue's msgids, with the fragments' translations where they have one.
    msgcat --use-first -o "$tmp/merged.po" "$tmp/fr.po" locale/fr/LC_MESSAGES/django.po
    msgattrib --no-obsolete -o "$tmp/merged.po" "$tmp/merged.po"
    # Keep the French catalogue's header and its set of msgids.
    msgmerge --quiet --no-fuzzy-matching -o "$tmp/final.po" "$tmp/merged.po" locale/fr/LC_MESSAGES/django.po
    # The catalogue keeps its own header (comments, Language, Plural-Forms): everything before the first blank line.
    { sed '/^$/q' locale/fr/LC_MESSAGES/django.po; sed '1,/^$/d' "$tmp/final.po"; } > "$tmp/with-header.po"
    cp "$tmp/with-header.po" locale/fr/LC_MESSAGES/django.po
    rm -rf "$tmp"
fi
$PY manage.py compilemessages -l fr -l en >/dev/null
untranslated=$(msgattrib --untranslated --no-obsolete locale/fr/LC_MESSAGES/django.po | grep -c '^msgid' || true)
fuzzy=$(msgattrib --only-fuzzy --no-obsolete locale/fr/LC_MESSAGES/django.po | grep -c '^msgid' || true)
echo "fr: untranslated entries $untranslated, fuzzy entries $fuzzy (each count includes the header when non-zero)"
