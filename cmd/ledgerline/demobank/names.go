package demobank

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Word lists for believable names. Every list is a slice, never a map, so that
// drawing from it is deterministic.

var (
	brandHeads = []string{"Rhein", "Main", "Elb", "Isar", "Donau", "Alpen", "Nord", "Süd", "Weser", "Mosel",
		"Neckar", "Taunus", "Harz", "Eifel", "Spree", "Havel", "Ruhr", "Saar", "Lahn", "Ems", "Oder", "Inn",
		"Lech", "Fulda", "Werra", "Brenner", "Boden", "Hanse", "Ostsee", "Lorelei"}
	brandTails = []string{"werk", "tal", "stein", "feld", "berg", "hof", "land", "mark", "bau", "tec",
		"licht", "stahl", "kraft", "form", "plan", "gold", "blick", "quelle", "brück", "wald"}

	activities = map2{
		"de": {"Maschinenbau", "Logistik", "Energie", "Chemie", "Immobilien", "Bau", "Handel", "Automotive",
			"Elektronik", "Medizintechnik", "Pharma", "Textil", "Lebensmittel", "Verpackung", "Software",
			"Metallbau", "Kunststofftechnik", "Agrar", "Holzwerke", "Papier", "Druck", "Anlagenbau",
			"Feinmechanik", "Optik", "Werkzeugbau", "Brauerei", "Mühlenwerke", "Windkraft", "Solartechnik"},
		"en": {"Engineering", "Logistics", "Energy", "Chemicals", "Properties", "Construction", "Trading",
			"Automotive", "Electronics", "Medical", "Pharma", "Foods", "Packaging", "Software", "Metals"},
		"fr": {"Industries", "Logistique", "Énergie", "Chimie", "Immobilier", "Construction", "Distribution",
			"Équipements", "Électronique", "Agroalimentaire"},
		"it": {"Meccanica", "Logistica", "Energia", "Chimica", "Immobiliare", "Costruzioni", "Alimentari", "Tessile"},
		"es": {"Logística", "Energía", "Química", "Inmobiliaria", "Construcciones", "Alimentación", "Ingeniería"},
	}
	holdingWords = map2{
		"de": {"Holding", "Beteiligungen", "Gruppe"},
		"en": {"Holdings", "Group"},
		"fr": {"Holding", "Groupe"},
		"it": {"Holding", "Gruppo"},
		"es": {"Holding", "Grupo"},
	}

	firstNames = []string{"Anna", "Jonas", "Lena", "Lukas", "Marie", "Felix", "Sophie", "Paul", "Laura", "Maximilian",
		"Julia", "Leon", "Hannah", "Elias", "Lea", "Noah", "Emma", "Ben", "Mia", "Finn", "Clara", "Tim",
		"Katharina", "Florian", "Johanna", "Tobias", "Sarah", "Moritz", "Nina", "Stefan", "Petra", "Thomas",
		"Sabine", "Michael", "Andrea", "Markus", "Claudia", "Andreas", "Monika", "Wolfgang", "Ursula", "Jürgen",
		"Elif", "Mehmet", "Aleksandra", "Piotr", "Giulia", "Marco", "Isabel", "Javier"}
	lastNames = []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
		"Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
		"Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier",
		"Lehmann", "Huber", "Keller", "Vogel", "Friedrich", "Günther", "Frank", "Berger", "Winkler", "Roth",
		"Beck", "Lorenz", "Baumann", "Franke", "Albrecht", "Schuster", "Simon", "Ludwig", "Böhm", "Winter",
		"Kraus", "Yılmaz", "Kowalski", "Rossi", "García", "Novak"}
	smallBusinesses = []string{"Bäckerei %s", "Praxis Dr. %s", "Schreinerei %s", "Café %s", "Elektro %s e.K.",
		"Autohaus %s", "Apotheke %s e.K.", "Malerbetrieb %s", "Steuerberatung %s", "Gärtnerei %s", "Metzgerei %s",
		"Ingenieurbüro %s", "Zahnarztpraxis %s", "Hotel %s", "Weingut %s"}

	// cities with their country, for banks and other financial institutions.
	cities = []struct{ name, country string }{
		{"Hamburg", "DE"}, {"Bremen", "DE"}, {"Hannover", "DE"}, {"Köln", "DE"}, {"Düsseldorf", "DE"},
		{"Frankfurt", "DE"}, {"Stuttgart", "DE"}, {"München", "DE"}, {"Nürnberg", "DE"}, {"Leipzig", "DE"},
		{"Dresden", "DE"}, {"Mainz", "DE"}, {"Wiesbaden", "DE"}, {"Kassel", "DE"}, {"Freiburg", "DE"},
		{"Augsburg", "DE"}, {"Münster", "DE"}, {"Bielefeld", "DE"}, {"Kiel", "DE"}, {"Rostock", "DE"},
		{"Wien", "AT"}, {"Graz", "AT"}, {"Linz", "AT"}, {"Salzburg", "AT"}, {"Zürich", "CH"}, {"Basel", "CH"},
		{"Genève", "CH"}, {"Lyon", "FR"}, {"Paris", "FR"}, {"Lille", "FR"}, {"Amsterdam", "NL"}, {"Rotterdam", "NL"},
		{"Milano", "IT"}, {"Torino", "IT"}, {"Madrid", "ES"}, {"Bilbao", "ES"}, {"London", "GB"}, {"Edinburgh", "GB"},
		{"New York", "US"}, {"Boston", "US"}, {"Luxembourg", "LU"},
	}

	// sovereigns issue the level 1 bonds of the liquidity buffer (ISIN prefix:
	// the country and, for the Bund, "000").
	sovereigns = []struct{ name, country, currency string }{
		{"Bundesrepublik Deutschland", "DE", "EUR"}, {"République française", "FR", "EUR"},
		{"Koninkrijk der Nederlanden", "NL", "EUR"}, {"Republik Österreich", "AT", "EUR"},
		{"Royaume de Belgique", "BE", "EUR"}, {"Suomen tasavalta", "FI", "EUR"}, {"Reino de España", "ES", "EUR"},
		{"Repubblica Italiana", "IT", "EUR"}, {"Ireland", "IE", "EUR"}, {"República Portuguesa", "PT", "EUR"},
		{"Grand-Duché de Luxembourg", "LU", "EUR"}, {"United States of America", "US", "USD"},
		{"Schweizerische Eidgenossenschaft", "CH", "CHF"}, {"Republika Slovenija", "SI", "EUR"},
		{"United Kingdom of Great Britain and Northern Ireland", "GB", "GBP"},
	}
	publicSector = []string{"Land Nordrhein-Westfalen", "Freistaat Bayern", "Land Baden-Württemberg", "Land Hessen",
		"Freie und Hansestadt Hamburg", "Kreditanstalt für Wiederaufbau", "Land Niedersachsen", "NRW.BANK"}
)

type map2 map[string][]string

// language of company names in a country.
func language(country string) string {
	switch country {
	case "DE", "AT", "CH":
		return "de"
	case "FR", "BE":
		return "fr"
	case "IT":
		return "it"
	case "ES":
		return "es"
	}
	return "en"
}

// legalForms by country, the most common first (and more than once).
var legalForms = map[string][]string{
	"DE": {"GmbH", "GmbH", "AG", "SE", "GmbH & Co. KG"},
	"AT": {"GmbH", "AG"},
	"CH": {"AG", "AG", "SA"},
	"FR": {"SA", "SAS"},
	"NL": {"B.V.", "N.V."},
	"IT": {"S.p.A.", "S.r.l."},
	"ES": {"S.A.", "S.L."},
	"LU": {"S.A.", "S.à r.l."},
	"GB": {"Ltd", "PLC"},
	"US": {"Inc.", "LLC"},
}

func legalForm(r *rand.Rand, country string) string {
	forms := legalForms[country]
	return forms[r.IntN(len(forms))]
}

// currencyOf is the home currency of a country.
func currencyOf(country string) string {
	switch country {
	case "US":
		return "USD"
	case "GB":
		return "GBP"
	case "CH":
		return "CHF"
	}
	return "EUR"
}

// namer hands out names no other counterparty has.
type namer struct {
	r      *rand.Rand
	used   map[string]bool
	brands map[string]bool
}

func newNamer(r *rand.Rand) *namer {
	return &namer{r: r, used: map[string]bool{}, brands: map[string]bool{}}
}

func (n *namer) pick(list []string) string { return list[n.r.IntN(len(list))] }

// unique returns name, or a variant of it when it is taken.
func (n *namer) unique(name func() string) string {
	s := name()
	for i := 0; n.used[s] && i < 20; i++ {
		s = name()
	}
	for i := 2; n.used[s]; i++ {
		if !n.used[s+" "+strconv.Itoa(i)] {
			s += " " + strconv.Itoa(i)
		}
	}
	n.used[s] = true
	return s
}

// brand is a company brand; a group's brand is given to no one else.
func (n *namer) brand(reserve bool) string {
	for i := 0; ; i++ {
		b := n.pick(brandHeads) + n.pick(brandTails)
		if i > 50 {
			b += " " + cities[n.r.IntN(len(cities))].name
		}
		if !n.brands[b] {
			if reserve {
				n.brands[b] = true
			}
			return b
		}
	}
}

// corporate names a company of brand in country; holding names the group's parent.
func (n *namer) corporate(brand, country string, holding bool) string {
	lang := language(country)
	return n.unique(func() string {
		word := n.pick(activities[lang])
		if holding {
			word = n.pick(holdingWords[lang])
		}
		return brand + " " + word + " " + legalForm(n.r, country)
	})
}

func (n *namer) person() string {
	return n.pick(firstNames) + " " + n.pick(lastNames)
}

func (n *namer) smallBusiness() string {
	return n.unique(func() string { return strings.Replace(n.pick(smallBusinesses), "%s", n.pick(lastNames), 1) })
}

// bank names a credit institution; it returns the name and the country.
func (n *namer) bank() (string, string) {
	var country string
	name := n.unique(func() string {
		c := cities[n.r.IntN(len(cities))]
		country = c.country
		switch c.country {
		case "DE":
			return []string{"Volksbank " + c.name + " eG", "Sparkasse " + c.name, c.name + "er Privatbank AG",
				"Bankhaus " + n.pick(lastNames) + " KG", n.pick(brandHeads) + "bank " + c.name + " AG"}[n.r.IntN(5)]
		case "AT":
			return []string{"Raiffeisenbank " + c.name + " eGen", "Bank " + c.name + " AG"}[n.r.IntN(2)]
		case "CH":
			return []string{"Bank " + n.pick(lastNames) + " & Cie AG", c.name + "er Kantonalbank"}[n.r.IntN(2)]
		case "FR", "LU":
			return "Banque de " + c.name + " SA"
		case "NL":
			return c.name + " Bank N.V."
		case "IT":
			return "Banca di " + c.name + " S.p.A."
		case "ES":
			return "Banco de " + c.name + " S.A."
		case "GB":
			return c.name + " Merchant Bank plc"
		}
		return "First " + c.name + " Bank, N.A."
	})
	return name, country
}

// financial names an insurer, pension fund, asset manager or leasing company.
func (n *namer) financial() (string, string) {
	var country string
	name := n.unique(func() string {
		c := cities[n.r.IntN(len(cities))]
		country = c.country
		b := n.pick(brandHeads)
		switch language(c.country) {
		case "de":
			return []string{b + " Versicherung AG", c.name + "er Pensionskasse VVaG", b + " Asset Management GmbH",
				b + " Leasing GmbH", b + " Kapitalverwaltungsgesellschaft mbH", b + " Rückversicherung AG"}[n.r.IntN(6)]
		case "fr":
			return []string{b + " Assurances SA", b + " Gestion SAS"}[n.r.IntN(2)]
		}
		return []string{b + " Insurance plc", b + " Capital Partners LLP", b + " Re S.A."}[n.r.IntN(3)]
	})
	return name, country
}

// asciiUpper turns a brand into the upper-case ASCII of a group id ("Süd" → "SUED").
func asciiUpper(s string) string {
	r := strings.NewReplacer("ä", "AE", "ö", "OE", "ü", "UE", "Ä", "AE", "Ö", "OE", "Ü", "UE", "ß", "SS", " ", "-")
	return strings.ToUpper(r.Replace(s))
}
