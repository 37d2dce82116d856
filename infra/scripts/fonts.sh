# The Debian font packages real-font training and evaluation draw from; sourced by install.sh and
# training-assets.sh. FontCatalog.Packages names the same packages, in the same order.

# What the first four real-font fine-tunes trained on (28 families, the held-out ones among them).
VIREO_FONTS_FIRST=(fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-crosextra-carlito
  fonts-crosextra-caladea fonts-roboto-unhinted fonts-open-sans fonts-lato fonts-noto-mono fonts-ebgaramond
  fonts-linuxlibertine fonts-firacode fonts-inconsolata fonts-urw-base35 fonts-cantarell)

# More training families: humanist and grotesque sans, display, signage and road-sign faces, serifs, typewriter and
# monospaced faces. None is a near copy of a held-out family (Open Sans, Caladea, Noto Mono, URW Gothic).
VIREO_FONTS_MORE=(fonts-inter fonts-karla fonts-cabin fonts-clear-sans fonts-b612 fonts-tiresias fonts-oxygen fonts-play
  fonts-go fonts-adf-gillius fonts-sora fonts-manrope fonts-junction fonts-league-spartan fonts-bebas-neue
  fonts-national-park fonts-roadgeek fonts-routed-gothic fonts-opendin fonts-dosis fonts-quicksand fonts-comfortaa
  fonts-yanone-kaffeesatz fonts-jura fonts-beteckna fonts-allerta fonts-roboto-slab fonts-vollkorn fonts-sil-gentium
  fonts-quattrocento fonts-fanwood fonts-lindenhill fonts-cardo fonts-courier-prime fonts-jetbrains-mono fonts-hack
  fonts-anonymous-pro fonts-ocr-b)
