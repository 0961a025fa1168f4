// The officially assigned ISO 3166-1 alpha-2 country codes (249, as the ISO 3166 Maintenance Agency lists them;
// the same set as Debian's iso-codes 4.15 and the tz database's iso3166.tab). Reserved, transitional and
// user-assigned codes (UK, EU, XK, ZZ, AA, QM–QZ, XA–XZ) are not countries here: Meta's lookalike_spec.country
// takes a country code, and one it does not know would fail the lookalike's creation at its first sync, long
// after the audience was accepted. Pure.
export const ISO_3166_ALPHA2: ReadonlySet<string> = new Set([
  'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ',
  'BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM',
  'DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS',
  'GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN',
  'KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ',
  'MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM',
  'PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV',
  'SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI',
  'VN VU WF WS YE YT ZA ZM ZW',
].join(' ').split(' '));
