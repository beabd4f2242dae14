# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify stage: boot an image the way Trove boots it and ask its agent over RabbitMQ.

PRIVATE to the collection: no compatibility promise outside it.
"""
