// Entry point for every page: styles, then the live client and the widgets it feeds.
import "./styles.css";
import "./torrents.css";
import "./live";
import "./peercounts";
import "./settings";
import "./chat";
import "./notifications";
import "./modqueue";
import "./torrent";
