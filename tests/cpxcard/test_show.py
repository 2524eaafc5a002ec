"""cpx-card show: the card, its codes' state, certificates, holder data checked against the CA file, and
the write protection of every object."""

from .conftest import _authority


def test_it_shows_the_card_its_codes_certificates_and_protected_objects(
    make_card, agent, authority, tmp_path
):
    card = make_card()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(authority.pem())
    result = agent("show", "--ca-file", str(ca_file))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Carte {card.number}" in out
    assert "PIN : 3 essais restants" in out and "PUK : 3 essais restants" in out
    for usage in ("auth", "sign"):
        certificate = card.certificates[usage]
        assert f"numéro de série : {certificate.serial_number:x}" in out
    assert "CN=Claire MARTIN (auth)" in out and "CN=Claire MARTIN (sign)" in out
    assert "signées par : CN=CPx test CA personnes" in out
    assert f"signature vérifiée avec les autorités de {ca_file}" in out
    assert "porteur : DR Claire MARTIN (RPPS 10107518424)" in out
    objects = [line for line in out.splitlines() if "protégé en écriture" in line]
    # two certificates, two public keys, the holder data and the help-desk key: all write-protected
    assert len(objects) == 6, out
    assert "MODIFIABLE" not in out and "SUPPRIMABLE" not in out
    assert "Déblocage par le service d'assistance : possible" in out


def test_show_keys_lists_the_private_keys_after_the_pin(make_card, agent):
    card = make_card()
    result = agent("show", "--keys", codes=[card.pin])
    assert result.returncode == 0, result.stderr
    private = [line for line in result.stdout.splitlines() if "clé privée" in line]
    assert len(private) == 2, result.stdout
    assert all("protégé en écriture" in line and "jamais extractible" in line for line in private)
    signature = [line for line in private if "CPS_SIGN" in line]
    assert "PIN à chaque signature" in signature[0]
    assert "PIN à chaque signature" not in [line for line in private if "CPS_AUTH" in line][0]


def test_holder_data_from_another_authority_fails_against_the_ca_file(make_card, agent, authority, tmp_path):
    make_card(signer=_authority("CPx impostor CA"))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(authority.pem())
    result = agent("show", "--ca-file", str(ca_file))
    assert result.returncode == 1
    assert "NON VÉRIFIÉES : le signataire n'est pas une des autorités du fichier --ca-file" in result.stdout
    assert "ne sont pas vérifiées" in result.stderr


def test_changed_holder_data_fails_even_without_a_ca_file(make_card, agent):
    make_card(tamper=True)
    result = agent("show")
    assert result.returncode == 1
    assert "NON VÉRIFIÉES : le contenu ne correspond pas au condensé signé" in result.stdout


def test_holder_data_of_another_card_is_refused(make_card, agent, authority, tmp_path):
    make_card(data_number="80250000010000000999")
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(authority.pem())
    result = agent("show", "--ca-file", str(ca_file))
    assert result.returncode == 1
    assert "ce sont les données de la carte 80250000010000000999" in result.stdout


def test_with_two_cards_it_asks_which_one(make_card, agent):
    first, second = make_card(), make_card()
    result = agent("show")
    assert result.returncode == 1
    assert "Plusieurs cartes" in result.stderr and first.number in result.stderr
    chosen = agent("--card", second.number, "show")
    assert chosen.returncode == 0 and f"Carte {second.number}" in chosen.stdout
    missing = agent("show", "--card", "80250000010000000777")
    assert (
        missing.returncode == 1 and "La carte 80250000010000000777 n'est dans aucun lecteur" in missing.stderr
    )
